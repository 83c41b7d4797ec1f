"""Project tools that are not model code: `python -m tools.<name>` from the project root."""
