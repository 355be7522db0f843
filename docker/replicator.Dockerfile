# The elt image: `elt replicate`, `elt api` and the one-shot seeding of the demo source
# (source_db_init), all from the one Node 20 package. The TypeScript is compiled and bundled in
# a build stage (npm run build, to dist/ and dist/cli/); the image holds the production
# node_modules, bin/elt.js, dist/ and no sources, so bin/elt.js runs the bundle with plain node
# (no tsx), as an installed package does. The PostgreSQL 15 client is there for the seeding, which
# runs roles.sql through psql.
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
# The compiled JavaScript (npm run build). main.ts loads the local demo stack
# (replicator/src/local-stack/) on demand, and that loads monitoring/prometheus.ts: tsc
# compiles it too.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund \
 && npm cache clean --force
COPY tsconfig.json tsconfig.build.json esbuild.config.mjs ./
COPY replicator ./replicator
COPY api ./api
COPY source_db_init ./source_db_init
COPY monitoring/prometheus.ts ./monitoring/prometheus.ts
RUN npm run build

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

ENV NODE_ENV=production

WORKDIR /app
# Code and dependencies stay owned by root: the service user can read them, not change them.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin/elt.js ./bin/elt.js
COPY docker/entrypoint.sh ./docker/entrypoint.sh
COPY --from=build /app/dist ./dist

# The node image's unprivileged user `node` (uid and gid 1000).
USER 1000:1000

# 9464: the replicator's /metrics; 5001: the API.
EXPOSE 9464 5001

# docker/entrypoint.sh: secrets from ELT_*_FILE, and exit 2 (a configuration error) not restarted.
ENTRYPOINT ["/usr/bin/tini", "--", "/app/docker/entrypoint.sh"]
CMD ["replicate"]
