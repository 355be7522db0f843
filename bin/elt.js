#!/usr/bin/env -S node --max-old-space-size=160
// The `elt` command, in one of two ways, chosen by what is beside this file:
// - a source checkout (replicator/src/main.ts is here): the TypeScript runs through tsx, a
//   development dependency, so there is no build step to forget and nothing stale to run;
// - an installed package (npm pack; it holds no .ts sources): the JavaScript that
//   `npm run build` compiled and bundled into dist/cli/ (esbuild.config.mjs), with plain node.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const source = new URL('../replicator/src/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/cli/main.js');
}
