"""What training and serving share, and nothing else: the bars contract and market calendar,
features, forecasters and baselines, the drift reference and the model bundle with `predict`.

It imports no Kedro pipeline, no kedro-mlflow, no Great Expectations and no matplotlib: the
service imports only this package (tests/core/test_imports.py checks it).
"""
