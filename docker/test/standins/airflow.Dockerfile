# Stand-in for apache/airflow:3.3.2-python3.11, for the end-to-end test on machines that reach no
# image registry: Debian bookworm's Python 3.11 with Airflow from PyPI in a virtualenv first on
# PATH (as the upstream image's user site is), the user airflow (uid 50000, group 0), AIRFLOW_HOME
# /opt/airflow, dumb-init, curl, and an /entrypoint that does what the upstream one does for elt
# (airflow.entrypoint.sh). Airflow is airflow/requirements.txt (copied into the build context by
# docker/test/e2e/bases.sh; it has the FAB auth manager the upstream image ships), so
# docker/airflow.Dockerfile's own install finds it all in place.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv curl dumb-init \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 50000 --gid 0 --home-dir /home/airflow --create-home --shell /bin/bash airflow \
 && mkdir -p /opt/airflow \
 && chown 50000:0 /opt/airflow
# LANG and LC_ALL as upstream sets them.
ENV AIRFLOW_HOME=/opt/airflow \
    LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    PATH=/home/airflow/.local/bin:$PATH \
    PYTHONUNBUFFERED=1
COPY requirements.txt /tmp/airflow/
USER 50000
RUN python3 -m venv /home/airflow/.local \
 && pip install --no-cache-dir --disable-pip-version-check -r /tmp/airflow/requirements.txt \
 && airflow version
COPY airflow.entrypoint.sh /entrypoint
WORKDIR /opt/airflow
EXPOSE 8080
ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"]
CMD []
