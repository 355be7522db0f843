# syntax=docker/dockerfile:1
#
# The elt image: `elt replicate`, `elt api` and the one-shot seeding of the demo source
# (source_db_init), all from the one Node 20 package. bin/elt.js runs the TypeScript
# through tsx at runtime, so there is no compile step: the image holds the production
# node_modules, the sources, and the PostgreSQL 15 client (the snapshot spawns pg_dump
# and psql; the seeding runs roles.sql through psql).
#
#   docker build -f docker/replicator.Dockerfile -t elt:local .

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------
# Production dependencies, exactly as locked.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime

# postgresql-client-15 is Debian bookworm's own PostgreSQL 15 client (pg_dump, psql), the
# major version of the servers; tini is PID 1 so that signals reach node and the pg_dump
# and psql children are reaped. Not pinned to a Debian revision (hadolint DL3008): the
# archive drops old revisions with every security update, and a pin would break the build.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 tini \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    PATH=/app/node_modules/.bin:$PATH

WORKDIR /app
# Code and dependencies stay owned by root: the service user can read them, not change them.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY replicator ./replicator
COPY api ./api
COPY source_db_init ./source_db_init

# The node image's unprivileged user `node` (uid and gid 1000). tsx keeps its cache in /tmp.
USER 1000:1000

# 9464: the replicator's /metrics; 5001: the API.
EXPOSE 9464 5001

ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-old-space-size=160", "/app/bin/elt.js"]
CMD ["replicate"]
