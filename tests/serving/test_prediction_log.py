"""The prediction log: rows queued from several threads all land, one hourly file per writer."""

import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from rps_kedro.serving.prediction_log import PredictionLog, partition_path
from tests.serving.conftest import SERVICE
from tests.serving.support import bentoml_server, server_home
from tests.support.servers import http_request
from tools.replay_traffic import predict_body

HOUR = datetime(2026, 11, 30, 14, 59, 59, tzinfo=UTC)
REQUESTS = 40


def _rows(count: int, start: datetime, request: str) -> list[dict]:
    return [
        {"request_id": request, "served_at": start, "symbol": "BTC-USD", "value": i}
        for i in range(count)
    ]


def test_every_queued_row_is_written_by_close(tmp_path):
    log = PredictionLog(tmp_path, writer="host-1")
    threads = [
        threading.Thread(
            target=lambda n=n: [log.record(_rows(3, HOUR, f"{n}-{k}")) for k in range(50)]
        )
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    lines = partition_path(tmp_path, HOUR, "host-1").read_text().splitlines()
    assert len(lines) == 4 * 50 * 3 == log.rows_written
    assert {json.loads(line)["request_id"] for line in lines} == {
        f"{n}-{k}" for n in range(4) for k in range(50)
    }


def test_files_rotate_with_the_hour_served_and_times_are_utc(tmp_path):
    log = PredictionLog(tmp_path, writer="host-2")
    log.record(_rows(2, HOUR, "a"))
    log.record(_rows(1, HOUR + timedelta(seconds=1), "b"))  # the next hour
    log.close()
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl"))
    assert files == [
        "date=2026-11-30/hour=14/host-2.jsonl",
        "date=2026-11-30/hour=15/host-2.jsonl",
    ]
    row = json.loads((tmp_path / files[1]).read_text())
    assert row["served_at"] == "2026-11-30T15:00:00Z" and row["request_id"] == "b"


def test_two_writers_never_share_a_file(tmp_path):
    first, second = PredictionLog(tmp_path, writer="w1"), PredictionLog(tmp_path, writer="w2")
    first.record(_rows(2, HOUR, "a"))
    second.record(_rows(3, HOUR, "b"))
    first.close()
    second.close()
    assert len(partition_path(tmp_path, HOUR, "w1").read_text().splitlines()) == 2
    assert len(partition_path(tmp_path, HOUR, "w2").read_text().splitlines()) == 3


def test_day_partitions_older_than_the_retention_are_removed(tmp_path):
    for day in ("2026-10-30", "2026-10-31", "2026-11-29"):
        (tmp_path / f"date={day}" / "hour=00").mkdir(parents=True)
    log = PredictionLog(tmp_path, writer="w1", retention_days=30)
    log.record(_rows(1, HOUR, "a"))
    log.close()
    kept = sorted(p.name for p in tmp_path.glob("date=*"))
    assert kept == ["date=2026-10-31", "date=2026-11-29", "date=2026-11-30"]


@pytest.mark.integration
def test_two_workers_log_every_answered_request_by_a_clean_stop(trained_model, tmp_path):
    """N requests to `bentoml serve` with two workers, stopped with SIGTERM: N rows."""
    conf = tmp_path / "conf"
    shutil.copytree(trained_model.conf, conf)
    log_dir = tmp_path / "prediction_log"
    (conf / "local").mkdir(exist_ok=True)
    (conf / "local/serving.yml").write_text(
        f"serving:\n  prediction_log:\n    directory: {log_dir}\n"
    )
    home = server_home(trained_model.bentoml_home, tmp_path / "home")
    body = predict_body("BTC-USD", trained_model.recent_bars("BTC-USD", 170))
    with bentoml_server(
        SERVICE, home, tmp_path / "logs", conf_source=conf, cwd=tmp_path, workers=2
    ) as server:
        with ThreadPoolExecutor(4) as clients:  # a new connection per request
            answers = list(
                clients.map(
                    lambda _: http_request(server.url + "/predict", body, timeout=120),
                    range(REQUESTS),
                )
            )
        server.stop(timeout=60)
    assert [status for status, _ in answers] == [200] * REQUESTS
    rows = [json.loads(line) for path in log_dir.rglob("*.jsonl") for line in path.open()]
    assert len(rows) == REQUESTS and len({row["request_id"] for row in rows}) == REQUESTS
    served = json.loads(answers[0][1])
    logged = next(
        row for row in rows if row["timestamp"] == served["timestamp"].replace("+00:00", "Z")
    )
    for field in ("symbol", "prediction_for", "predicted_close", "model_version", "model_alias"):
        assert logged[field] == served[field] or field == "prediction_for"
    assert logged["source"] == "http" and logged["persistence_log_return"] == 0.0
    assert logged["har_volatility"] > 0 and 0 <= logged["out_of_range_share"] <= 1
