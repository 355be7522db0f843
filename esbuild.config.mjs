/**
 * The `elt` command as a few files (`npm run build`, after tsc): the compiled JavaScript of
 * replicator/src/main.js and everything it imports, bundled into dist/cli/. Node's module loader
 * costs about 0.5 ms per file and the command imports some 450 of them (ours, zod, yaml, pg,
 * prom-client); bundled, `elt --help` and the start of `elt replicate` take about 0.2 s less
 * (bench/README.md, "Start-up"). The commands loaded on demand (`elt api`, `elt up`) become
 * chunks that share the bundle's modules, so there is one copy of each (the CLI's exit codes
 * rely on `instanceof` of its error classes).
 *
 * Left outside, loaded from node_modules as before: what reads files next to its own module
 * (pino and pino-pretty start worker threads from them, @fastify/swagger reads its package.json,
 * @fastify/swagger-ui serves the documentation page's static files); and the demo loader
 * (source_db_init/init.js), which reads the SQL files beside it: the chunk imports the compiled
 * copy in dist/source_db_init/, where the build puts those files.
 */
import { build } from 'esbuild';

const DEMO_LOADER = /source_db_init\/init\.js$/;

await build({
  entryPoints: ['dist/replicator/src/main.js'],
  outdir: 'dist/cli',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['pino', 'pino-pretty', '@fastify/swagger', '@fastify/swagger-ui'],
  // Bundled CommonJS (pg, prom-client) calls require() for Node's own modules.
  banner: {
    js: "import { createRequire as eltCreateRequire } from 'node:module'; const require = eltCreateRequire(import.meta.url);",
  },
  plugins: [
    {
      name: 'demo-loader-beside-its-sql',
      setup(build) {
        build.onResolve({ filter: DEMO_LOADER }, () => ({ path: '../source_db_init/init.js', external: true }));
      },
    },
  ],
  logLevel: 'warning',
});
