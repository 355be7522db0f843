#!/usr/bin/env -S node --max-old-space-size=160
// The `elt` command. Runs the TypeScript sources through tsx, so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
await import('../replicator/src/main.ts');
