/**
 * Readers for the files that describe the Docker stack, for the tests beside this file:
 * docker-compose.yaml (with Compose's variable interpolation), .env.example, the
 * Dockerfiles (instructions with their continuation lines joined) and .dockerignore
 * (Docker's matching rules: last matching pattern wins, a pattern that matches a parent
 * directory matches everything below it).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const COMPOSE_PATH = join(REPO_ROOT, 'docker-compose.yaml');
export const ENV_EXAMPLE_PATH = join(REPO_ROOT, '.env.example');

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | number | { published?: string | number; target?: string | number })[];
  volumes?: (string | { type: string; source?: string; target?: string })[];
  networks?: string[] | Record<string, unknown>;
  depends_on?: string[] | Record<string, { condition: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  restart?: string;
  profiles?: string[];
  /** Names of top-level secrets, mounted as /run/secrets/<name>. */
  secrets?: string[];
  [key: string]: unknown;
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  networks?: Record<string, unknown>;
  volumes?: Record<string, unknown>;
  /** Each secret's source: a variable of .env (Compose reads it from the environment). */
  secrets?: Record<string, { environment?: string; file?: string }>;
  [key: string]: unknown;
}

/** docker-compose.yaml as YAML (merge keys `<<` resolved), before interpolation. */
export function readComposeRaw(): ComposeFile {
  return parse(readFileSync(COMPOSE_PATH, 'utf8'), { merge: true }) as ComposeFile;
}

/** KEY=VALUE lines of an env file (Compose's .env format, without quotes or export). */
export function readEnvFile(path: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const [index, line] of readFileSync(path, 'utf8').split('\n').entries()) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(trimmed);
    if (!match) throw new Error(`${path}:${index + 1}: not a KEY=VALUE line: ${line}`);
    vars.set(match[1]!, match[2]!);
  }
  return vars;
}

export interface VariableUse {
  name: string;
  /** The operator after the name: '' for ${NAME} or $NAME, else ':-', '-', ':?', '?', ':+' or '+'. */
  operator: string;
  /** The default, the error message, or the alternative after the operator. */
  argument: string;
}

const VARIABLE = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*)|(\$)|(\{[^}]*\}?))/g;

/**
 * Compose's interpolation of one string: `$$` is a literal `$`; `${NAME}`, `$NAME`,
 * `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`,
 * `${NAME:+alternative}` and `${NAME+alternative}` as in the Compose specification.
 * A missing required variable or a malformed reference throws.
 */
export function interpolate(value: string, env: ReadonlyMap<string, string>, uses: VariableUse[] = []): string {
  return value.replace(
    VARIABLE,
    (
      whole,
      braced?: string,
      operator?: string,
      argument?: string,
      bare?: string,
      dollar?: string,
      malformed?: string,
    ) => {
      if (dollar) return '$';
      if (malformed !== undefined) throw new Error(`Malformed variable reference ${whole} in ${JSON.stringify(value)}`);
      const name = (braced ?? bare)!;
      uses.push({ name, operator: operator ?? '', argument: argument ?? '' });
      if (argument?.includes('$')) throw new Error(`Nested variables are not supported here: ${whole}`);
      const set = env.get(name);
      switch (operator) {
        case undefined:
          return set ?? '';
        case ':-':
          return set === undefined || set === '' ? argument! : set;
        case '-':
          return set === undefined ? argument! : set;
        case ':?':
          if (set === undefined || set === '') throw new Error(`Required variable ${name} is missing: ${argument}`);
          return set;
        case '?':
          if (set === undefined) throw new Error(`Required variable ${name} is missing: ${argument}`);
          return set;
        case ':+':
          return set === undefined || set === '' ? '' : argument!;
        case '+':
          return set === undefined ? '' : argument!;
        default:
          throw new Error(`Unknown operator ${operator} in ${whole}`);
      }
    },
  );
}

/** Interpolate every string value (not keys) of a parsed Compose file. */
export function interpolateAll<T>(node: T, env: ReadonlyMap<string, string>, uses: VariableUse[] = []): T {
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return interpolate(value, env, uses);
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return walk(node) as T;
}

/** A service's environment as a map (list form `KEY=VALUE` or mapping form). */
export function serviceEnvironment(service: ComposeService): Map<string, string> {
  const env = new Map<string, string>();
  const { environment } = service;
  if (Array.isArray(environment)) {
    for (const entry of environment) {
      const at = entry.indexOf('=');
      env.set(at === -1 ? entry : entry.slice(0, at), at === -1 ? '' : entry.slice(at + 1));
    }
  } else if (environment) {
    for (const [key, value] of Object.entries(environment)) env.set(key, value === null ? '' : String(value));
  }
  return env;
}

export function serviceNetworks(service: ComposeService): string[] {
  if (!service.networks) return ['default'];
  return Array.isArray(service.networks) ? service.networks : Object.keys(service.networks);
}

export interface PublishedPort {
  hostIp: string;
  published: number;
  target: number;
}

/** Published ports of a service, from the short (`[ip:]host:container[/proto]`) or long syntax. */
export function publishedPorts(service: ComposeService): PublishedPort[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') {
      return { hostIp: '', published: Number(port.published), target: Number(port.target) };
    }
    const parts = String(port)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    if (parts.length === 3) return { hostIp: parts[0]!, published: Number(parts[1]), target: Number(parts[2]) };
    if (parts.length === 2) return { hostIp: '', published: Number(parts[0]), target: Number(parts[1]) };
    return { hostIp: '', published: Number.NaN, target: Number(parts[0]) };
  });
}

export interface BindMount {
  source: string;
  target: string;
}

/** Bind mounts (sources that are paths: ., / or ~) and named-volume mounts of a service. */
export function serviceMounts(service: ComposeService): { binds: BindMount[]; named: string[] } {
  const binds: BindMount[] = [];
  const named: string[] = [];
  for (const volume of service.volumes ?? []) {
    if (typeof volume === 'object') {
      if (volume.type === 'bind' && volume.source) binds.push({ source: volume.source, target: volume.target ?? '' });
      else if (volume.type === 'volume' && volume.source) named.push(volume.source);
      continue;
    }
    const [source, target] = volume.split(':');
    if (target === undefined) continue; // anonymous volume
    if (/^[./~]/.test(source!)) binds.push({ source: source!, target });
    else named.push(source!);
  }
  return { binds, named };
}

// ---------------------------------------------------------------------------------------
// Dockerfiles

export interface Instruction {
  keyword: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  args: string;
  line: number;
}

/** The instructions of a Dockerfile: comments and parser directives dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    while (line.trimEnd().endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i]!;
      if (next.trim().startsWith('#')) continue;
      line = line.trimEnd().slice(0, -1) + ' ' + next.trim();
    }
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match) throw new Error(`line ${start + 1}: not an instruction: ${line}`);
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start + 1 });
  }
  return instructions;
}

/** The options (`--from=…`, `--chown=…`) and the sources and destination of a COPY or ADD. */
export function copyParts(args: string): { options: Map<string, string>; sources: string[]; destination: string } {
  const words = args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
  const options = new Map<string, string>();
  while (words[0]?.startsWith('--')) {
    const [key, value] = words.shift()!.slice(2).split('=');
    options.set(key!, value ?? '');
  }
  const destination = words.pop() ?? '';
  return { options, sources: words, destination };
}

// ---------------------------------------------------------------------------------------
// .dockerignore

interface IgnorePattern {
  negated: boolean;
  regex: RegExp;
}

function patternRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        // `**` matches any number of directories, `**/` included.
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          source += '(?:.*/)?';
        } else source += '.*';
      } else source += '[^/]*';
    } else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Docker's .dockerignore semantics, enough for this repository's file. */
export function readDockerignore(path: string): (relativePath: string) => boolean {
  const patterns: IgnorePattern[] = [];
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    if (negated) line = line.slice(1).trim();
    // Docker cleans each pattern like a path: no leading ./ or /, no trailing /.
    line = line.replace(/^\.?\//, '').replace(/\/+$/, '');
    patterns.push({ negated, regex: patternRegex(line) });
  }
  return (relativePath: string) => {
    const parts = relativePath
      .replace(/^\.?\//, '')
      .replace(/\/+$/, '')
      .split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const { negated, regex } of patterns) {
      if (candidates.some((candidate) => regex.test(candidate))) excluded = !negated;
    }
    return excluded;
  };
}
