"""The Alertmanager webhook receiver: payload to JSON lines, its HTTP answers, its entry point.

fixtures/alertmanager_webhook_v4.json is a payload captured from Debian's Alertmanager 0.25
(webhook version 4): one firing and one resolved alert of the same group.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.servers import http_request, running_alert_receiver
from tools.alert_receiver import (
    DEFAULT_OUTPUT,
    PayloadError,
    alert_records,
    make_server,
    parse_args,
)

PAYLOAD = json.loads((Path(__file__).parent / "fixtures/alertmanager_webhook_v4.json").read_text())


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@contextlib.contextmanager
def serving(output: Path) -> Iterator[str]:
    """The receiver in-process on a free port, appending to ``output``; yields its base URL."""
    server = make_server("127.0.0.1", 0, output)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def receiver(tmp_path) -> Iterator[tuple[str, Path]]:
    """(base URL, output file) of an in-process receiver."""
    output = tmp_path / "alerts" / "alerts.jsonl"
    with serving(output) as url:
        yield url, output


def test_one_record_per_alert_with_the_group_context():
    received = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
    records = alert_records(PAYLOAD, received)
    assert [r["status"] for r in records] == ["firing", "resolved"]
    for record, alert in zip(records, PAYLOAD["alerts"], strict=True):
        assert record["received_at"] == "2025-06-30T12:00:00+00:00"
        assert record["receiver"] == "rps-webhook"
        assert record["groupKey"] == PAYLOAD["groupKey"]
        for key in ("labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"):
            assert record[key] == alert[key]


@pytest.mark.parametrize(
    "payload, reason",
    [
        ([], "JSON object"),
        ({"version": "4"}, "'alerts' must be a list"),
        ({"alerts": {"status": "firing"}}, "'alerts' must be a list"),
        ({"alerts": ["firing"]}, "every item"),
    ],
)
def test_a_payload_that_is_not_a_webhook_is_refused(payload, reason):
    with pytest.raises(PayloadError, match=reason):
        alert_records(payload, datetime.now(UTC))


def test_posted_alerts_are_appended_as_json_lines(receiver):
    url, output = receiver
    assert http_request(f"{url}/alerts", PAYLOAD) == (200, b'{"written": 2}')
    assert http_request(f"{url}/", PAYLOAD)[0] == 200  # Alertmanager may post to the root
    lines = read_lines(output)
    assert [(r["labels"]["instance"], r["status"]) for r in lines] == [
        ("127.0.0.1:3000", "firing"),
        ("127.0.0.1:3001", "resolved"),
    ] * 2
    assert all(r["labels"]["alertname"] == "RpsDriftRatioHigh" for r in lines)


def test_bad_requests_get_4xx_and_write_nothing(receiver):
    url, output = receiver
    assert http_request(f"{url}/alerts", {"alerts": "none"})[0] == 400
    assert http_request(f"{url}/elsewhere", PAYLOAD)[0] == 404
    assert http_request(f"{url}/alerts", method="POST")[0] in (400, 411)  # no body
    status, body = http_request(f"{url}/alerts", b"{not json")
    assert status == 400 and b"invalid JSON" in body
    assert not output.exists() or output.read_text() == ""


def test_an_unwritable_file_answers_5xx_so_alertmanager_retries(tmp_path):
    output = tmp_path / "alerts.jsonl"
    output.mkdir()  # a directory where the file should be: appending fails
    with serving(output) as url:
        assert http_request(f"{url}/alerts", PAYLOAD)[0] == 500


def test_health_endpoint(receiver):
    url, _ = receiver
    assert http_request(f"{url}/healthz") == (200, b'{"status": "ok"}')
    assert http_request(f"{url}/nothing")[0] == 404


def test_concurrent_posts_never_interleave_lines(receiver):
    url, output = receiver
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: http_request(f"{url}/alerts", PAYLOAD)[0], range(40)))
    assert statuses == [200] * 40
    assert len(read_lines(output)) == 80  # every line parses on its own


def test_cli_defaults_write_under_08_reporting():
    args = parse_args([])
    assert (args.host, args.port) == ("127.0.0.1", 9095)
    assert args.output == DEFAULT_OUTPUT == Path("data/08_reporting/alerts/alerts.jsonl")


def test_the_module_entry_point_serves_and_stops_cleanly_on_sigterm(tmp_path):
    """`python -m tools.alert_receiver --port P --output F`, as `make` runs it."""
    output = tmp_path / "new" / "folder" / "alerts.jsonl"
    with running_alert_receiver(output, tmp_path) as server:
        assert http_request(f"{server.url}/alerts", PAYLOAD)[0] == 200
        assert [r["fingerprint"] for r in read_lines(output)] == [
            a["fingerprint"] for a in PAYLOAD["alerts"]
        ]
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=10) == 0
    assert "listening on http://127.0.0.1:" in server.log_tail()
