# Thin targets over uv + kedro. `make run` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV_BIN := .venv/bin
export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export MLFLOW_DISABLE_TELEMETRY := true
export GX_ANALYTICS_ENABLED := false
export MPLBACKEND := Agg
export BENTOML_DO_NOT_TRACK := true
# Python files compiled at install: imports stay fast where PYTHONDONTWRITEBYTECODE is set
# (every `kedro run`, Airflow task and `bentoml serve` would otherwise recompile ~5,000 modules).
export UV_COMPILE_BYTECODE := 1
BENTOML_PORT ?= 3000

.DEFAULT_GOAL := help
.PHONY: help setup run test viz lint format bench results

help:  ## this list: every target and what it does
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  make %-18s %s\n", $$1, $$2}'

setup:  ## install uv if missing, then the locked environment into .venv
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --locked

run: setup  ## the main job: kedro run (default pipeline); extra options in KEDRO_ARGS
	$(VENV_BIN)/kedro run $(KEDRO_ARGS)

test: setup airflow-setup  ## the default test suite (the Airflow tests use orchestration/.venv)
	$(VENV_BIN)/pytest

viz: setup  ## Kedro-Viz on http://127.0.0.1:4141
	$(VENV_BIN)/kedro viz run --host 127.0.0.1 --port 4141 --no-browser

lint: setup  ## ruff lint and format check
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/ruff format --check .

format: setup  ## ruff fix and format
	$(VENV_BIN)/ruff check --fix .
	$(VENV_BIN)/ruff format .

bench: setup  ## benchmarks (all, or BENCHMARKS="pipeline freshness"); figures in data/08_reporting/benchmarks/*.json
	$(VENV_BIN)/python -m benchmarks $(BENCHMARKS)

results: setup  ## rewrite the README's Results section from the figure files (make bench, make run)
	$(VENV_BIN)/python -m tools.readme_results

.PHONY: bento bentofile serve mlflow monitor alert-receiver monitoring-check

bentofile: setup  ## bentofile.yaml's python packages from pyproject's extra `bento` (commit the result)
	$(VENV_BIN)/python -m tools.bentofile

bento: setup  ## import models:/rps_kedro@champion into the BentoML store, then `bentoml build`
	$(VENV_BIN)/python -m rps_kedro.serving.build
	$(VENV_BIN)/bentoml build

serve: setup  ## the latest built Bento (make bento first) on http://127.0.0.1:3000
	$(VENV_BIN)/bentoml serve rps_kedro_service:latest --host 127.0.0.1 --port $(BENTOML_PORT)

mlflow: setup  ## MLflow UI on the embedded store: http://127.0.0.1:5000
	$(VENV_BIN)/mlflow ui --backend-store-uri $${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db} --host 127.0.0.1 --port 5000

monitor: setup  ## Prometheus :9090, Alertmanager :9093, alert receiver :9095, against `make serve` (:3000)
	scripts/monitor.sh

alert-receiver: setup  ## only the Alertmanager webhook receiver: alerts -> data/08_reporting/alerts/alerts.jsonl
	$(VENV_BIN)/python -m tools.alert_receiver --host 127.0.0.1 --port 9095 \
		--output data/08_reporting/alerts/alerts.jsonl

retrain-trigger: setup  ## the retrain trigger on :9096: drift / live-skill alerts start the modelling DAG (Airflow REST API)
	$(VENV_BIN)/python -m rps_kedro.retraining --host 127.0.0.1 --port 9096

monitoring-check:  ## promtool/amtool checks and the alert rules' unit tests
	promtool check config monitoring/prometheus.yml
	promtool check config monitoring/compose/prometheus.yml
	promtool test rules monitoring/tests/*.yml
	amtool check-config monitoring/alertmanager.yml monitoring/compose/alertmanager.yml

# ---- orchestration: Airflow (own environment), generated DAGs --------------------------------
AIRFLOW_DAGS ?= data_refresh,modelling
AIRFLOW_BIN := orchestration/.venv/bin
AIRFLOW_PORT ?= 8080

.PHONY: airflow-setup airflow-dags airflow lock

airflow-setup:  ## Airflow 3 in its own locked environment (orchestration/.venv), the project inside
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --locked --project orchestration

airflow-dags: setup  ## regenerate airflow_dags/ from conf/base/airflow.yml (commit the result)
	$(VENV_BIN)/kedro airflow create --pipelines $(AIRFLOW_DAGS) --group-by namespace \
		--jinja-file orchestration/airflow_dag_template.j2 --target-dir airflow_dags/

airflow: airflow-setup  ## Airflow on http://127.0.0.1:8080 (user admin, password printed): every server on 127.0.0.1
	AIRFLOW_BIN=$(AIRFLOW_BIN) AIRFLOW_PORT=$(AIRFLOW_PORT) scripts/airflow.sh

lock:  ## after editing pyproject.toml: relock the project AND the Airflow environment
	$(UV) lock
	$(UV) lock --project orchestration
