# syntax=docker/dockerfile:1
#
# Airflow 3 for elt: the official image, the DAGs from airflow/dags, the dbt project from
# custom_postgres, and dbt in a virtualenv of its own.
#
# dbt lives apart from Airflow because custom_postgres/requirements.txt is a complete
# `pip freeze` of dbt's own environment; installed into Airflow's environment it would
# fight Airflow's constraints. The DAGs find dbt through ELT_DBT_VENV (the variable the
# Makefile exports for the local stack); its bin/ is also last on PATH, so `dbt` works
# while `python` stays Airflow's.
#
#   docker build -f docker/airflow.Dockerfile -t elt-airflow:local .

ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.12

# ---------------------------------------------------------------------------------------
# dbt-core and dbt-postgres exactly as custom_postgres/requirements.txt pins them, built
# as the image's airflow user (uid 50000) in AIRFLOW_HOME, where the final stage keeps it.
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION} AS dbt
COPY custom_postgres/requirements.txt /tmp/dbt-requirements.txt
RUN python -m venv /opt/airflow/dbt-venv \
 && /opt/airflow/dbt-venv/bin/pip install --no-cache-dir --disable-pip-version-check -r /tmp/dbt-requirements.txt \
 && /opt/airflow/dbt-venv/bin/dbt --version

# ---------------------------------------------------------------------------------------
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION} AS airflow
ARG AIRFLOW_VERSION
ARG PYTHON_VERSION

COPY --from=dbt /opt/airflow/dbt-venv /opt/airflow/dbt-venv

# The providers the DAGs need beyond those the official image ships (airflow/requirements.txt,
# once the DAGs have one), installed against Airflow's official constraints for this
# Airflow and Python, with apache-airflow itself held at the image's version.
COPY --chown=50000:0 airflow /opt/airflow/elt-airflow
RUN if [ -f /opt/airflow/elt-airflow/requirements.txt ]; then \
      pip install --no-cache-dir --disable-pip-version-check \
        "apache-airflow==${AIRFLOW_VERSION}" \
        -r /opt/airflow/elt-airflow/requirements.txt \
        --constraint "https://raw.githubusercontent.com/apache/airflow/constraints-${AIRFLOW_VERSION}/constraints-${PYTHON_VERSION}.txt"; \
    fi

COPY --chown=50000:0 airflow/dags /opt/airflow/dags
COPY --chown=50000:0 custom_postgres /opt/airflow/custom_postgres

ENV ELT_DBT_VENV=/opt/airflow/dbt-venv \
    ELT_DBT_PROJECT_DIR=/opt/airflow/custom_postgres \
    DBT_PROFILES_DIR=/opt/airflow/custom_postgres \
    PATH=$PATH:/opt/airflow/dbt-venv/bin

# The official image's airflow user, stated so that nothing above can leave root behind.
USER 50000
