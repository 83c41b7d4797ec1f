"""Alert -> retrain: Alertmanager's webhook notifications start the Airflow modelling DAG."""
