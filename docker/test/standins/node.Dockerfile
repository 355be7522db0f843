# Stand-in for node:20-bookworm-slim, for the end-to-end test on machines that reach no image
# registry: Debian bookworm with the host's Node 20 (node and its node_modules, npm among them,
# copied into the build context by docker/test/e2e/bases.sh) and the user node (uid 1000).
FROM debian:bookworm-slim
COPY node /usr/local/bin/node
COPY node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
CMD ["node"]
