"""Serving: the registry's champion as a BentoML service (service.py) with pydantic validation
(schemas.py, validation.py), Prometheus metrics (metrics.py) and live drift (drift.py)."""
