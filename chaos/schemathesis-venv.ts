/**
 * Where schemathesis lives: its own virtualenv, built by `make chaos-deps` from
 * chaos/requirements-schemathesis.txt (found as harness/venvs.ts finds every virtualenv).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { schemathesisVenv } from '../harness/venvs.js';

export { schemathesisVenv };

/**
 * The schemathesis command of that virtualenv. Throws, with what to do, when make has not
 * built it (or the build stopped half-way: the `.installed` stamp comes last).
 */
export function schemathesisCli(): string {
  const venv = schemathesisVenv();
  const cli = join(venv, 'bin', 'schemathesis');
  if (!existsSync(join(venv, '.installed')) || !existsSync(cli)) {
    throw new Error(
      `schemathesis is not installed in ${venv}: run make chaos-deps (it builds that virtualenv from chaos/requirements-schemathesis.txt).`,
    );
  }
  return cli;
}
