"""Monitoring helpers: the Alertmanager webhook receiver (``python -m rps_kedro.monitoring.alert_receiver``).

The Prometheus, Alertmanager and Grafana configuration lives in the top-level ``monitoring/`` folder.
"""
