"""Matplotlib, imported when a figure is drawn: importing pyplot takes over a second, and every
Kedro session imports every pipeline's nodes (a task that draws nothing must not pay for it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def subplots(*args: Any, **kwargs: Any) -> tuple[Figure, Any]:
    """`matplotlib.pyplot.subplots`, pyplot imported on first use."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 (see the module docstring)

    return plt.subplots(*args, **kwargs)


def close(figure: Figure) -> None:
    """Release a figure pyplot keeps (`matplotlib.pyplot.close`)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 (see the module docstring)

    plt.close(figure)
