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
# airflow/requirements.txt is a freeze made with Python 3.11: the base image's Python matches it.
ARG PYTHON_VERSION=3.11

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

# The providers the DAGs need beyond those the official image ships: airflow/requirements.txt
# is a complete freeze of Airflow with them (apache-airflow itself at the image's version), so
# it installs as it is, with nothing fetched but the packages.
COPY --chown=50000:0 airflow /opt/airflow/elt-airflow
RUN pip install --no-cache-dir --disable-pip-version-check -r /opt/airflow/elt-airflow/requirements.txt \
 && python -c "import airflow; assert airflow.__version__ == '${AIRFLOW_VERSION}', airflow.__version__"

COPY --chown=50000:0 airflow/dags /opt/airflow/dags
COPY --chown=50000:0 custom_postgres /opt/airflow/custom_postgres

ENV ELT_DBT_VENV=/opt/airflow/dbt-venv \
    ELT_DBT_PROJECT_DIR=/opt/airflow/custom_postgres \
    DBT_PROFILES_DIR=/opt/airflow/custom_postgres \
    PATH=$PATH:/opt/airflow/dbt-venv/bin

COPY --chown=50000:0 docker/airflow-entrypoint.sh /opt/airflow/elt-entrypoint.sh

# The official image's airflow user, stated so that nothing above can leave root behind.
USER 50000
# docker/airflow-entrypoint.sh: the ELT_*_FILE secrets, then the official /entrypoint.
ENTRYPOINT ["/usr/bin/dumb-init", "--", "/opt/airflow/elt-entrypoint.sh"]
CMD []
