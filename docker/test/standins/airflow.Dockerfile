# Stand-in for apache/airflow:3.3.2-python3.11, for the end-to-end test on machines that reach
# no image registry: Debian's Python 3.11 with airflow/requirements.txt (Airflow 3.3.2 and the
# providers) in a virtualenv first on PATH (as the official image's user site is), the user
# airflow (uid 50000, gid 0), AIRFLOW_HOME=/opt/airflow, dumb-init and an /entrypoint that does
# what the official one does for elt (_AIRFLOW_DB_MIGRATE, _AIRFLOW_WWW_USER_CREATE).
# Build context: the repository root.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv dumb-init curl libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 50000 --gid 0 --home-dir /home/airflow --create-home airflow \
 && mkdir -p /opt/airflow \
 && chown 50000:0 /opt/airflow
ENV AIRFLOW_HOME=/opt/airflow \
    PATH=/home/airflow/.local/bin:$PATH
USER 50000
COPY airflow/requirements.txt /tmp/airflow-requirements.txt
RUN python3 -m venv /home/airflow/.local \
 && pip install --no-cache-dir --disable-pip-version-check -r /tmp/airflow-requirements.txt \
 && airflow version
COPY --chown=50000:0 docker/test/standins/airflow.entrypoint.sh /entrypoint
WORKDIR /opt/airflow
ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"]
CMD []
