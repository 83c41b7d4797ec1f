"""AlphaVantageDataset against a replayed Alpha Vantage (TIME_SERIES_INTRADAY, 60min)."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pandas as pd
import pytest
from werkzeug import Request, Response

from rps_kedro.datasets import (
    AlphaVantageDataset,
    MissingCredentialsError,
    ProviderError,
    RateLimitError,
)
from tests.datasets.conftest import (
    assert_bars_contract,
    assert_deadline_exceeded,
    assert_refused,
    assert_timeout_retried,
    queries,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "providers"
REAL_PAYLOADS = Path(__file__).resolve().parents[2].parent / "shared/data/real/payloads"
GOOG_2017 = REAL_PAYLOADS / "alphavantage_TIME_SERIES_INTRADAY_60min_GOOG_2017-03-17.json"
IBM_2022 = REAL_PAYLOADS / "alphavantage_TIME_SERIES_INTRADAY_60min_IBM_2022-02-03_trimmed.json"
RETRY = {"max_attempts": 3, "base_delay": 0.01, "max_delay": 0.05, "timeout": 0.5}
KEY = "SECRET-KEY-123"
# 17:30 EDT on Tuesday 2024-03-12, two days after the US switch to daylight saving time.
NOW = pd.Timestamp("2024-03-12 21:30", tz="UTC")


def payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def make_dataset(server, **kwargs) -> AlphaVantageDataset:
    options = {
        "base_url": server.url_for("/"),
        "retry": RETRY,
        "credentials": {"api_key": KEY},
        "clock": lambda: NOW,
        "backfill_hours": 120,
        **kwargs,
    }
    return AlphaVantageDataset(**options)


def test_trailing_window_converts_us_eastern_to_utc_across_dst(server):
    server.expect_request("/query").respond_with_json(payload("alpha_vantage_intraday_60min.json"))

    bars = make_dataset(server).fetch("AAPL")

    assert_bars_contract(bars)
    # Window: 2024-03-07 21:00 UTC .. 2024-03-12 20:00 UTC; 7 session hours x 3 days inside it.
    assert len(bars) == 21
    assert bars["timestamp"].min() == pd.Timestamp("2024-03-08 14:00", tz="UTC")
    assert bars["timestamp"].max() == pd.Timestamp("2024-03-12 19:00", tz="UTC")
    assert (bars["symbol"] == "AAPL").all()
    by_time = bars.set_index("timestamp")
    # Friday before the switch is EST (UTC-5), Monday after it is EDT (UTC-4). Labels are bar
    # ENDS: the one labelled 16:00 is the 15:00-16:00 bar, which starts at 20:00 UTC.
    friday_15 = payload("alpha_vantage_intraday_60min.json")["Time Series (60min)"][
        "2024-03-08 16:00:00"
    ]
    assert by_time.loc[pd.Timestamp("2024-03-08 20:00", tz="UTC"), "open"] == float(
        friday_15["1. open"]
    )
    assert by_time.loc[pd.Timestamp("2024-03-08 20:00", tz="UTC"), "volume"] == float(
        friday_15["5. volume"]
    )
    monday = bars[bars["timestamp"].dt.date == pd.Timestamp("2024-03-11").date()]
    assert monday["timestamp"].dt.hour.tolist() == list(range(13, 20))
    friday = bars[bars["timestamp"].dt.date == pd.Timestamp("2024-03-08").date()]
    assert friday["timestamp"].dt.hour.tolist() == list(range(14, 21))

    (query,) = queries(server)
    assert query == {
        "function": "TIME_SERIES_INTRADAY",
        "symbol": "AAPL",
        "interval": "60min",
        "outputsize": "full",
        "extended_hours": "false",
        "apikey": KEY,
    }


def test_since_returns_only_newer_bars_from_the_trailing_call(server):
    server.expect_request("/query").respond_with_json(payload("alpha_vantage_intraday_60min.json"))

    bars = make_dataset(server).fetch("AAPL", since=pd.Timestamp("2024-03-12 15:00", tz="UTC"))

    assert bars["timestamp"].tolist() == list(
        pd.date_range("2024-03-12 16:00", "2024-03-12 19:00", freq="h", tz="UTC")
    )
    assert "month" not in queries(server)[0]


def test_old_window_is_backfilled_month_by_month(server):
    def by_month(request: Request) -> Response:
        name = f"alpha_vantage_intraday_60min_{request.args['month']}.json"
        return Response((FIXTURES / name).read_text(), content_type="application/json")

    server.expect_request("/query").respond_with_handler(by_month)

    # 960 h back from 2024-03-12 20:00 UTC starts at 2024-02-01 21:00 UTC (16:00 EST).
    bars = make_dataset(server, backfill_hours=960).fetch("AAPL")

    assert_bars_contract(bars)
    assert [query.get("month") for query in queries(server)] == ["2024-02", "2024-03"]
    assert all(query["apikey"] == KEY for query in queries(server))
    days = sorted({str(day) for day in bars["timestamp"].dt.date})
    # 2024-02-01's session ends at 20:00 UTC, before the window: trimmed.
    assert days == [
        "2024-02-02",
        "2024-02-29",
        "2024-03-01",
        "2024-03-08",
        "2024-03-11",
        "2024-03-12",
    ]
    assert len(bars) == 6 * 7


@pytest.mark.parametrize(
    ("backfill_days", "months"),
    [(24, [None]), (26, ["2024-02", "2024-03"])],
)
def test_trailing_call_only_when_window_is_recent(server, backfill_days, months):
    server.expect_request("/query").respond_with_json(payload("alpha_vantage_intraday_60min.json"))

    make_dataset(server, backfill_hours=24 * backfill_days).fetch("AAPL")

    assert [query.get("month") for query in queries(server)] == months


@pytest.mark.parametrize("refusal", ["alpha_vantage_note.json", "alpha_vantage_information.json"])
def test_rate_limit_payload_is_retried_until_it_clears(server, refusal):
    server.expect_oneshot_request("/query").respond_with_json(payload(refusal))
    server.expect_request("/query").respond_with_json(payload("alpha_vantage_intraday_60min.json"))

    bars = make_dataset(server).fetch("AAPL")

    assert len(bars) == 21
    assert len(server.log) == 2


@pytest.mark.parametrize(
    ("refusal", "key"),
    [("alpha_vantage_note.json", "Note"), ("alpha_vantage_information.json", "Information")],
)
def test_persistent_rate_limit_payload_raises_rate_limit_error(server, refusal, key):
    server.expect_request("/query").respond_with_json(payload(refusal))

    with pytest.raises(RateLimitError) as raised:
        make_dataset(server).fetch("AAPL")

    message = str(raised.value)
    assert message.startswith("alpha_vantage AAPL: gave up after 3 attempts: rate limited")
    assert f"({key}:" in message
    assert len(server.log) == 3


def test_error_message_payload_fails_at_once_without_retry(server):
    server.expect_request("/query").respond_with_json(payload("alpha_vantage_error_message.json"))

    with pytest.raises(ProviderError, match="alpha_vantage AAPL: rejected: Invalid API call") as e:
        make_dataset(server).fetch("AAPL")

    assert not isinstance(e.value, RateLimitError)
    assert len(server.log) == 1


def test_persistent_5xx_gives_up_naming_provider_and_symbol(server):
    server.expect_request("/query").respond_with_data("Service Unavailable", status=503)

    with pytest.raises(ProviderError) as raised:
        make_dataset(server).fetch("AAPL")

    assert not isinstance(raised.value, RateLimitError)
    assert str(raised.value) == (
        "alpha_vantage AAPL: gave up after 3 attempts: HTTP 503: Service Unavailable"
    )
    assert len(server.log) == 3


def test_5xx_then_success_recovers(server):
    server.expect_oneshot_request("/query").respond_with_data("Bad Gateway", status=502)
    server.expect_request("/query").respond_with_json(payload("alpha_vantage_intraday_60min.json"))

    assert len(make_dataset(server).fetch("AAPL")) == 21
    assert len(server.log) == 2


def test_timeout_is_retried_then_reported(server):
    dataset = make_dataset(server, retry={**RETRY, "timeout": 0.2})
    assert_timeout_retried(
        server,
        "/query",
        lambda: dataset.fetch("AAPL"),
        r"gave up after 3 attempts: timed out after 0.2s",
    )


def test_malformed_json_fails_without_retry(server):
    server.expect_request("/query").respond_with_data(
        '{"Meta Data": {"1. Information": "Intraday', content_type="application/json"
    )

    with pytest.raises(ProviderError, match=r"alpha_vantage AAPL: malformed JSON \(HTTP 200\)"):
        make_dataset(server).fetch("AAPL")
    assert len(server.log) == 1


def test_empty_series_gives_empty_contract_frame(server):
    server.expect_request("/query").respond_with_json(
        payload("alpha_vantage_intraday_60min_empty.json")
    )

    bars = make_dataset(server).fetch("AAPL")

    assert bars.empty
    assert_bars_contract(bars)


def test_missing_key_fails_at_construction(server, monkeypatch):
    monkeypatch.delenv("ALPHAVANTAGE_API_KEY", raising=False)

    with pytest.raises(MissingCredentialsError) as raised:
        AlphaVantageDataset(base_url=server.url_for("/"), retry=RETRY)

    assert "ALPHAVANTAGE_API_KEY" in str(raised.value)
    assert "credentials.yml" in str(raised.value)
    assert len(server.log) == 0


def test_key_from_environment_is_used(server, monkeypatch):
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "ENV-KEY")
    server.expect_request("/query").respond_with_json(payload("alpha_vantage_intraday_60min.json"))

    AlphaVantageDataset(base_url=server.url_for("/"), retry=RETRY, clock=lambda: NOW).fetch("AAPL")

    assert queries(server)[0]["apikey"] == "ENV-KEY"


def _exception_texts(error: BaseException) -> list[str]:
    """str and repr of an exception and of everything chained to it."""
    texts, seen, pending = [], set(), [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), *map(str, current.args)]
        pending += [current.__cause__, current.__context__]
    return texts


def _echo_url(status: int):
    """An error page quoting the request URL, padded so the key straddles the 200-char cut."""

    def handler(request: Request) -> Response:
        padding = "x" * (194 - request.url.index(request.args["apikey"]))
        return Response(padding + request.url, status=status, content_type="text/html")

    return handler


def test_api_key_never_leaks_into_errors_logs_or_repr(server, monkeypatch, caplog):
    monkeypatch.delenv("ALPHAVANTAGE_API_KEY", raising=False)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")  # conf/logging.yml quiets it once loaded
    information = json.dumps(payload("alpha_vantage_information.json"))

    def information_quoting_key(request: Request) -> Response:
        body = information.replace("__APIKEY__", request.args["apikey"])
        return Response(body, content_type="application/json")

    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    def error_message_quoting_key(request: Request) -> Response:
        body = {"Error Message": f"Invalid API call: apikey={request.args['apikey']} is invalid"}
        return Response(json.dumps(body), content_type="application/json")

    server.expect_request("/5xx/query").respond_with_handler(_echo_url(500))
    server.expect_request("/json/query").respond_with_handler(_echo_url(200))
    server.expect_request("/limit/query").respond_with_handler(information_quoting_key)
    server.expect_request("/error/query").respond_with_handler(error_message_quoting_key)
    paths = ["/5xx", "/json", "/limit", "/error"]
    bases = [server.url_for(path) for path in paths] + [f"http://127.0.0.1:{closed_port}"]

    errors, datasets = [], []
    for base_url in bases:
        dataset = make_dataset(server, base_url=base_url)
        datasets.append(dataset)
        with pytest.raises(ProviderError) as raised:
            dataset.fetch("AAPL")
        errors.append(raised.value)

    assert [type(error) for error in errors] == [
        ProviderError,
        ProviderError,
        RateLimitError,
        ProviderError,
        ProviderError,
    ]
    assert str(errors[3]) == "alpha_vantage AAPL: rejected: Invalid API call: apikey=*** is invalid"
    assert "request failed: ConnectionError" in str(errors[-1])
    assert sum(KEY in request.url for request, _ in server.log) == 3 + 1 + 3 + 1  # key was sent
    fragments = {KEY[i : i + 6] for i in range(len(KEY) - 5)}
    for error in errors:
        for text in _exception_texts(error):
            assert not any(fragment in text for fragment in fragments), text
    # werkzeug is the fake provider's own access log (server side), not our client.
    client_records = [r for r in caplog.records if not r.name.startswith("werkzeug")]
    assert any("GET /5xx/query" in r.getMessage() for r in client_records)  # urllib3 DEBUG on
    for record in client_records:
        assert KEY not in record.getMessage(), record.name
    for dataset in datasets:
        assert KEY not in repr(dataset)
        assert KEY not in str(dataset._describe())
        assert KEY not in repr(dataset.client)


def relabelled(relabel) -> dict:
    """The trailing fixture with every label passed through `relabel` (None drops it)."""
    body = payload("alpha_vantage_intraday_60min.json")
    series = body["Time Series (60min)"].items()
    body["Time Series (60min)"] = {
        relabel(label): bar for label, bar in series if relabel(label) is not None
    }
    return body


def hour_earlier(label: str) -> str:
    """The label one hour earlier, as Alpha Vantage writes it."""
    return f"{pd.Timestamp(label) - pd.Timedelta(hours=1):%Y-%m-%d %H:%M:%S}"


def with_extra_label(label: str) -> dict:
    """The trailing fixture plus one bar labelled `label`."""
    body = payload("alpha_vantage_intraday_60min.json")
    series = body["Time Series (60min)"]
    series[label] = next(iter(series.values()))
    return body


def refused(server, body, pattern: str) -> ProviderError:
    """`body` makes fetch("AAPL") fail with a ProviderError matching `pattern`, at once."""
    fetch = lambda: make_dataset(server).fetch("AAPL")  # noqa: E731
    return assert_refused(server, "/query", body, fetch, rf"^alpha_vantage AAPL: {pattern}")


@pytest.mark.parametrize(
    ("body", "found"),
    [
        pytest.param([], r"the payload is a list of 0", id="payload-list"),
        pytest.param(
            {"Meta Data": {}},
            r"the payload is a dict with keys \[Meta Data\], expected a dict with 'Time Series",
            id="no-series",
        ),
        pytest.param(
            {"Time Series (60min)": [1, 2]},
            r"'Time Series \(60min\)' is a list of 2",
            id="series-list",
        ),
        pytest.param(
            {**payload("alpha_vantage_intraday_60min.json"), "Meta Data": "AAPL"},
            r"'Meta Data' is a str",
            id="meta-str",
        ),
        pytest.param(
            {"Time Series (60min)": {}},
            r"'Meta Data' is null",
            id="meta-missing",
        ),
        pytest.param(
            {**payload("alpha_vantage_intraday_60min.json"), "Time Series (60min)": {"x": "1"}},
            r"bar 'x' is a str",
            id="bar-str",
        ),
    ],
)
def test_unexpected_shape_is_refused_naming_it(server, body, found):
    refused(server, body, f"unexpected payload shape: {found}")


def test_payload_of_another_symbol_is_refused(server):
    body = payload("alpha_vantage_intraday_60min.json")
    body["Meta Data"]["2. Symbol"] = "MSFT"
    refused(server, body, "payload is for symbol 'MSFT', not 'AAPL'")


def test_payload_without_a_symbol_is_refused(server):
    body = payload("alpha_vantage_intraday_60min.json")
    del body["Meta Data"]["2. Symbol"]
    refused(server, body, "payload is for symbol None, not 'AAPL'")


def test_payload_of_another_interval_or_unknown_time_zone_is_refused(server):
    body = payload("alpha_vantage_intraday_60min.json")
    body["Meta Data"]["4. Interval"] = "5min"
    refused(server, body, "payload interval is '5min', not '60min'")
    server.clear()
    body = payload("alpha_vantage_intraday_60min.json")
    body["Meta Data"]["6. Time Zone"] = "Mars/Olympus"
    refused(server, body, "unknown 'Time Zone' 'Mars/Olympus'")


def test_start_labelled_payload_is_refused(server):
    # The fixture as a reader assuming bar STARTS would expect it: 09:00...15:00.
    refused(
        server, relabelled(hour_earlier), r"label 2024-03-\d\d 09:00 and no 16:00 label: .*starts"
    )


@pytest.mark.parametrize(
    ("label", "problem"),
    [
        ("2024-03-12 23:00:00", "would put a bar at Tue 22:00-23:00, outside the 04:00-20:00"),
        ("2024-03-09 12:00:00", "would put a bar at Sat 11:00-12:00, outside"),
        ("2024-03-12 04:00:00", "would put a bar at Tue 03:00-04:00, outside"),
        ("2024-03-12 15:30:00", "is not on the hour"),
    ],
)
def test_label_that_does_not_fit_bar_ends_is_refused(server, label, problem):
    error = refused(server, with_extra_label(label), f"label {label[:16]} {problem}")
    assert "expected bar ENDS on the hour (10:00 = the 09:30-10:00 bar)" in str(error)


def test_unparseable_label_is_refused(server):
    refused(server, with_extra_label("yesterday"), r"labels are not '%Y-%m-%d %H:%M:%S' times")


def test_dripping_server_fails_on_the_overall_deadline(server):
    dataset = make_dataset(server, deadline=0.8)
    assert_deadline_exceeded(
        server, "/query", lambda: dataset.fetch("AAPL"), "alpha_vantage AAPL", 0.8
    )


def serve_real(server, path: Path) -> None:
    """Replay a real payload byte for byte (skips when the development data is absent)."""
    if not path.exists():
        pytest.skip(f"{path} absent (real payloads are development data, not in the repo)")
    server.expect_request("/query").respond_with_data(
        path.read_bytes(), content_type="application/json"
    )


def test_real_2017_payload_end_labels_become_bar_starts(server, caplog):
    serve_real(server, GOOG_2017)
    caplog.set_level(logging.INFO, logger="rps_kedro.datasets.alpha_vantage")
    # 17:30 EDT on Friday 2017-03-17; 24 days back stays in one trailing call.
    now = pd.Timestamp("2017-03-17 21:30", tz="UTC")

    bars = make_dataset(server, clock=lambda: now, backfill_hours=24 * 24).fetch("GOOG")

    assert_bars_contract(bars)
    series = json.loads(GOOG_2017.read_text())["Time Series (60min)"]
    days = sorted({label[:10] for label in series if label >= "2017-02-22"})
    assert len(bars) == 7 * len(days)  # the whole session of every day from 2017-02-22 on
    local = bars["timestamp"].dt.tz_convert("America/New_York")
    assert sorted(set(local.dt.hour)) == list(range(9, 16))  # the 09:00...15:00 bars
    by_time = bars.set_index("timestamp")
    for label, start in [
        ("2017-03-17 10:00:00", "2017-03-17 13:00"),  # covers 09:30-10:00 EDT: the 09:00 bar
        ("2017-03-17 16:00:00", "2017-03-17 19:00"),  # 15:00-16:00 EDT
        ("2017-03-10 10:00:00", "2017-03-10 14:00"),  # before the DST switch: EST
    ]:
        assert by_time.loc[pd.Timestamp(start, tz="UTC"), "open"] == float(series[label]["1. open"])
    assert "dropped" not in caplog.text


def test_real_2022_payload_drops_extended_hours_and_logs_how_many(server, caplog):
    serve_real(server, IBM_2022)
    caplog.set_level(logging.INFO, logger="rps_kedro.datasets.alpha_vantage")
    now = pd.Timestamp("2022-02-04 01:30", tz="UTC")  # 20:30 EST on Thursday 2022-02-03

    bars = make_dataset(server, clock=lambda: now, backfill_hours=24).fetch("IBM")

    assert_bars_contract(bars)
    # Labels 16:00 (the regular 15:00-16:00 bar) and 17:00, 18:00, 19:00 (after hours).
    assert bars["timestamp"].tolist() == [pd.Timestamp("2022-02-03 20:00", tz="UTC")]
    assert bars[["open", "volume"]].iloc[0].tolist() == [138.06, 1344095.0]
    assert "alpha_vantage IBM: dropped 3 extended-hours bars of 4" in caplog.text
