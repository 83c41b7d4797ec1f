"""Which alerts start a retrain, and starting it through Airflow's REST API.

`RetrainTrigger.handle(alert)` decides for one alert of an Alertmanager notification and returns
its outcome (each logged and counted by the caller):

- `ignored`: not one of the configured alerts; `resolved`: a resolved alert starts nothing;
- `duplicate`: this alert episode (fingerprint and start time) already started a retrain
  (Alertmanager re-sends a firing alert at every group change and `repeat_interval`);
- `cooldown`: a retrain was started less than `cooldown_minutes` ago (a flapping alert, or
  several alerts at once, start one retrain);
- `triggered`: a run of the modelling DAG was started, with the alert in its conf;
- `airflow_unavailable`: Airflow did not answer or answered 5xx after every attempt
  (exponential backoff); `rejected`: Airflow refused the request (4xx: token, unknown or
  paused DAG...). Neither starts the cooldown: the next notification tries again.

The Airflow client is apache-airflow-client (the project's official client); its bearer token is
read when a request is made and never logged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import urllib3
from airflow_client.client import ApiClient, Configuration
from airflow_client.client.api.dag_run_api import DagRunApi
from airflow_client.client.exceptions import ApiException
from airflow_client.client.models.trigger_dag_run_post_body import TriggerDAGRunPostBody

logger = logging.getLogger(__name__)

OUTCOMES = (
    "triggered",
    "cooldown",
    "duplicate",
    "resolved",
    "ignored",
    "rejected",
    "airflow_unavailable",
    "error",  # a bug in the trigger, logged with its traceback
)
MAX_EPISODES = 1024  # alert episodes remembered for the duplicate check


class AirflowUnavailableError(RuntimeError):
    """Airflow did not answer, or answered with a server error: worth retrying."""


class AirflowRejectedError(RuntimeError):
    """Airflow refused the request (4xx): retrying would not help."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class RetrainSettings:
    """conf/base/retraining.yml's `retraining` block."""

    airflow_url: str
    dag_id: str
    request_timeout_seconds: float
    alerts: tuple[str, ...]
    cooldown: timedelta
    attempts: int
    backoff_seconds: float

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RetrainSettings:
        """From the loaded `retraining` configuration."""
        return cls(
            airflow_url=str(config["airflow"]["url"]).rstrip("/"),
            dag_id=config["airflow"]["dag_id"],
            request_timeout_seconds=float(config["airflow"]["request_timeout_seconds"]),
            alerts=tuple(config["alerts"]),
            cooldown=timedelta(minutes=float(config["cooldown_minutes"])),
            attempts=int(config["retry"]["attempts"]),
            backoff_seconds=float(config["retry"]["backoff_seconds"]),
        )


class AirflowToken:
    """The API's bearer token: a given one, or one obtained from Airflow's `POST /auth/token`
    with a username and password (again when Airflow answers 401: tokens expire)."""

    def __init__(
        self,
        airflow_url: str,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10,
    ):
        if not token and not (username and password):
            raise ValueError(
                "no Airflow API credentials: set RPS_AIRFLOW_TOKEN, or RPS_AIRFLOW_USERNAME and"
                " RPS_AIRFLOW_PASSWORD, or airflow_api in conf/local/credentials.yml"
            )
        self.airflow_url = airflow_url
        self.username, self.password, self.timeout = username, password, timeout
        self._token = token

    @property
    def renewable(self) -> bool:
        return bool(self.username and self.password)

    def __call__(self) -> str:
        """The current token (obtained on first use when only credentials were given)."""
        if not self._token:
            self.renew()
        return self._token or ""

    def renew(self) -> None:
        """A new token from the username and password."""
        response = requests.post(
            f"{self.airflow_url}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=self.timeout,
        )
        if response.status_code >= 500:
            raise AirflowUnavailableError(f"token: HTTP {response.status_code}")
        if not response.ok:
            raise AirflowRejectedError(f"token: HTTP {response.status_code}", response.status_code)
        self._token = response.json()["access_token"]


class AirflowDagTrigger:
    """Starts runs of one DAG with Airflow 3's `POST /api/v2/dags/{dag_id}/dagRuns`."""

    def __init__(self, settings: RetrainSettings, token: AirflowToken):
        self.settings = settings
        self.token = token

    def __call__(self, conf: dict[str, Any]) -> str:
        """Start a run with `conf`; its run id (a token refused with 401 or 403, as Airflow 3
        answers an expired JWT, is renewed once when it can be)."""
        try:
            return self._trigger(conf)
        except AirflowRejectedError as error:
            if error.status not in (401, 403) or not self.token.renewable:
                raise
        self.token.renew()
        return self._trigger(conf)

    def _trigger(self, conf: dict[str, Any]) -> str:
        try:
            return self._post(conf)
        except requests.RequestException as error:
            raise AirflowUnavailableError(type(error).__name__) from None

    def _post(self, conf: dict[str, Any]) -> str:
        configuration = Configuration(host=self.settings.airflow_url, access_token=self.token())
        configuration.retries = False  # RetrainTrigger retries, with backoff and a log line
        body = TriggerDAGRunPostBody(logical_date=None, conf=conf)
        try:
            with ApiClient(configuration) as client:
                run = DagRunApi(client).trigger_dag_run(
                    self.settings.dag_id,
                    body,
                    _request_timeout=self.settings.request_timeout_seconds,
                )
        except ApiException as error:
            reason = f"HTTP {error.status} {error.reason}: {_detail(error.body)}"
            if error.status is not None and error.status >= 500:
                raise AirflowUnavailableError(reason) from None
            raise AirflowRejectedError(reason, error.status) from None
        except urllib3.exceptions.HTTPError as error:
            raise AirflowUnavailableError(type(error).__name__) from None
        return run.dag_run_id


def _detail(body: str | bytes | None) -> str:
    """Airflow's explanation in an error answer (its JSON `detail`), else the body itself."""
    try:
        return str(json.loads(body or "")["detail"])
    except (ValueError, KeyError, TypeError):
        return str(body or "")[:200]


def utc_now() -> datetime:
    return datetime.now(UTC)


class RetrainTrigger:
    """Decides for each alert whether it starts a retrain (see the module docstring)."""

    def __init__(
        self,
        settings: RetrainSettings,
        start_run: Callable[[dict[str, Any]], str],
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self.start_run = start_run
        self.clock = clock
        self.sleep = sleep
        self.last_triggered: datetime | None = None
        self.episodes: dict[tuple[str, str], str] = {}  # (fingerprint, startsAt) -> run id

    def handle(self, alert: dict[str, Any]) -> str:
        """The outcome of one alert of an Alertmanager notification."""
        name = alert.get("labels", {}).get("alertname", "")
        episode = (alert.get("fingerprint", ""), alert.get("startsAt", ""))
        now = self.clock()
        if name not in self.settings.alerts:
            return self._report("ignored", name, "not an alert that retrains")
        if alert.get("status") != "firing":
            return self._report("resolved", name, "a resolved alert starts nothing")
        if episode in self.episodes:
            return self._report("duplicate", name, f"already started {self.episodes[episode]}")
        if self.last_triggered and now - self.last_triggered < self.settings.cooldown:
            wait = self.last_triggered + self.settings.cooldown - now
            return self._report("cooldown", name, f"next retrain possible in {wait}")
        return self._start(name, episode, alert, now)

    def _start(
        self, name: str, episode: tuple[str, str], alert: dict[str, Any], now: datetime
    ) -> str:
        conf = {
            "trigger": "alert",
            "alert": {
                "alertname": name,
                "labels": alert.get("labels", {}),
                "startsAt": alert.get("startsAt"),
                "fingerprint": alert.get("fingerprint"),
            },
        }
        delay, failure = self.settings.backoff_seconds, None
        for attempt in range(1, self.settings.attempts + 1):
            if failure is not None:
                logger.warning(
                    "Airflow unavailable for %s (attempt %d/%d: %s), retrying in %.0f s",
                    name,
                    attempt - 1,
                    self.settings.attempts,
                    failure,
                    delay,
                )
                self.sleep(delay)
                delay *= 2
            try:
                run_id = self.start_run(conf)
            except AirflowRejectedError as error:
                return self._report("rejected", name, f"Airflow refused the run: {error}")
            except AirflowUnavailableError as error:
                failure = error
                continue
            self.last_triggered = now
            self.episodes[episode] = run_id
            while len(self.episodes) > MAX_EPISODES:
                self.episodes.pop(next(iter(self.episodes)))
            return self._report("triggered", name, f"started {self.settings.dag_id} run {run_id}")
        return self._report(
            "airflow_unavailable",
            name,
            f"Airflow unavailable after {self.settings.attempts} attempts ({failure})",
        )

    def _report(self, outcome: str, name: str, detail: str) -> str:
        level = logging.ERROR if outcome in ("rejected", "airflow_unavailable") else logging.INFO
        logger.log(level, "retrain %s for %s: %s", outcome, name or "?", detail)
        return outcome
