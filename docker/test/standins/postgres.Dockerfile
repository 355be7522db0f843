# Stand-in for postgres:15, for the end-to-end test on machines that reach no image registry:
# Debian's PostgreSQL 15 with an entrypoint that does what the official image's does for elt
# (POSTGRES_USER, POSTGRES_PASSWORD[_FILE], POSTGRES_DB, /docker-entrypoint-initdb.d).
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/elt.conf \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /docker-entrypoint-initdb.d /var/run/postgresql /var/lib/postgresql/data \
 && chown postgres:postgres /var/run/postgresql /var/lib/postgresql/data \
 && chmod 3777 /var/run/postgresql
# A UTF-8 locale, as upstream's (en_US.utf8 there): initdb takes its encoding from it, and under the
# C locale the databases would be SQL_ASCII (dbt then fails on a model's non-ASCII character).
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
COPY postgres.entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
