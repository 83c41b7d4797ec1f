"""The quality gate pipeline on an in-memory catalog: clean bars pass and become the primary bars."""

from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from rps_kedro.core.bars import conform_bars, empty_bars
from rps_kedro.pipelines.validation import create_pipeline
from tests.conftest import SYMBOLS


def test_clean_bars_pass_the_gate_and_become_the_primary_bars(simulated_bars, params):
    catalog = DataCatalog()
    catalog["bars_history"] = empty_bars()
    catalog["merged_bars"] = simulated_bars
    catalog["params:ingestion.symbols"] = SYMBOLS
    catalog["params:validation"] = params

    SequentialRunner().run(create_pipeline(), catalog)

    assert "PASSED" in catalog["validation_report"].load()
    assert catalog["quarantined_bars"].load().empty
    assert catalog["primary_bars"].load().equals(conform_bars(simulated_bars))
