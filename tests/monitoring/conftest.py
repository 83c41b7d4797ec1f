"""Fixtures for the monitoring tests: tool paths (skipping without Debian's packages), the
stand-in exporter and one monitoring stack scraping it, shared by the live tests of a session.

prometheus_client is imported only when the stand-in starts, never at collection: the serving
tests must be free to set PROMETHEUS_MULTIPROC_DIR before its first import.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import MonitoringStack, require_binaries, running_monitoring_stack

STANDIN_DRIFT_RATIO = 0.5  # well above the rules' threshold: the drift alert must fire


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_binaries("promtool")["promtool"]


@pytest.fixture(scope="session")
def amtool() -> str:
    return require_binaries("amtool")["amtool"]


@pytest.fixture(scope="session")
def standin_exporter() -> Iterator:
    from tests.monitoring.standin_exporter import StandinExporter  # noqa: PLC0415 (see above)

    exporter = StandinExporter(drift_ratio=STANDIN_DRIFT_RATIO)
    try:
        yield exporter
    finally:
        exporter.close()


@pytest.fixture(scope="session")
def standin_stack(tmp_path_factory, standin_exporter) -> Iterator[MonitoringStack]:
    """Receiver, Alertmanager and Prometheus (1 s scrape and evaluation, `for:` of 2 s) scraping
    the stand-in exporter as job rps_service."""
    require_binaries("prometheus", "alertmanager")
    with running_monitoring_stack(
        tmp_path_factory.mktemp("monitoring-stack"), service_target=standin_exporter.address
    ) as stack:
        stack.prometheus.wait_for_targets_up()
        yield stack
