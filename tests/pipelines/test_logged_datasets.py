"""The model_input rows a training run logs as its MLflow dataset inputs (rps_kedro.hooks)."""

import mlflow

from rps_kedro.hooks import SCHEMA_SAMPLE_ROWS, pandas_dataset


def test_logged_datasets_schema_is_mlflows_own_with_missing_values_beyond_the_sample(model_input):
    rows = model_input.head(3 * SCHEMA_SAMPLE_ROWS).copy()
    column = rows.columns[-3]
    rows.loc[rows.index[-1], column] = float("nan")  # a gap no sampled row shows
    mine = pandas_dataset(rows, "model_input.testing", "target_volatility")
    assert mine.schema == mlflow.data.from_pandas(rows).schema
    assert not {spec.name: spec.required for spec in mine.schema.inputs}[column]
    assert mine.profile == {"num_rows": len(rows), "num_elements": rows.size}
