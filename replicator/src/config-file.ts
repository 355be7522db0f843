/**
 * The optional settings file, `--config elt.yaml`: the settings of the environment, each
 * under its variable's name in lower case without `ELT_` (`source_url`, `include_tables`).
 * A list may be a YAML sequence or the comma-separated text; a mapping (`mask_columns`, say)
 * becomes its `key:value` pairs, comma-separated. The environment and the flags win over the
 * file. A key that names no setting is refused: a typo must not leave a setting at its default.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigError } from './errors.js';

/** The file's key for a setting's environment variable: ELT_SOURCE_URL → source_url. */
export function fileKey(envName: string): string {
  return envName.replace(/^ELT_/, '').toLowerCase();
}

/** Setting key → its environment variable (config.ts's SETTINGS). */
export type EnvNames<K extends string> = Record<K, { env: string }>;

const HINT = 'Fix the settings file and start again (its keys are the ELT_ variables in lower case without ELT_).';

/** A YAML value as the text its environment variable would hold; throws a sentence when it cannot be one. */
function asText(name: string, value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  const scalar = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  if (Array.isArray(value) && value.every(scalar)) return value.map(String).join(',');
  if (typeof value === 'object' && !Array.isArray(value) && Object.values(value).every(scalar))
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}:${String(v)}`)
      .join(',');
  throw new Error(`${name} must be a value, a list of values or a mapping of values`);
}

/** Parse the file's text (pure): the settings it gives, as text, by setting key. */
export function parseConfigFile<K extends string>(
  text: string,
  path: string,
  settings: EnvNames<K>,
): Partial<Record<K, string>> {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0)
    throw new ConfigError(`The settings file ${path} is not valid YAML: ${doc.errors[0]!.message}.`, HINT);
  const content: unknown = doc.toJS();
  if (content === null || content === undefined) return {};
  if (typeof content !== 'object' || Array.isArray(content))
    throw new ConfigError(`The settings file ${path} must be a mapping of settings (key: value).`, HINT);
  const byFileKey = new Map((Object.keys(settings) as K[]).map((key) => [fileKey(settings[key].env), key]));
  const out: Partial<Record<K, string>> = {};
  const problems: string[] = [];
  for (const [name, value] of Object.entries(content as Record<string, unknown>)) {
    const key = byFileKey.get(name);
    if (key === undefined) {
      problems.push(`${name} is not a setting`);
      continue;
    }
    try {
      const text = asText(name, value);
      if (text !== undefined) out[key] = text;
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0)
    throw new ConfigError(
      `The settings file ${path}: ${problems.join('; ')}.`,
      `${HINT} elt replicate --help lists them.`,
    );
  return out;
}

/** Read and parse the settings file at `path`. */
export function readConfigFile<K extends string>(path: string, settings: EnvNames<K>): Partial<Record<K, string>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `Cannot read the settings file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`,
      'Give --config the path of a readable YAML file.',
    );
  }
  return parseConfigFile(text, path, settings);
}
