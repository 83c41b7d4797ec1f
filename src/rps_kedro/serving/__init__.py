"""Serving: the registry's champion as a BentoML service (service.py) with pydantic checks
(schemas.py, request_checks.py), Prometheus metrics (metrics.py) and live drift (drift.py)."""
