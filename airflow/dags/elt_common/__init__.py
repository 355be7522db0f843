"""What the elt DAGs share: settings, the API client, dbt commands and the pure decisions.

Nothing here touches Airflow's metadata database or the network at import time, so the
DAG files that import it parse in milliseconds and the decisions are unit-testable.
"""
