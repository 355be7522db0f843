/**
 * Configuration: an optional settings file (./config-file.ts), environment variables over
 * it, command-line flags over both, parsed once with zod. Every bad value becomes one
 * sentence naming the variable and what to do.
 */
import { z } from 'zod';
import { fileKey, readConfigFile } from './config-file.js';
import { ConfigError } from './errors.js';
import { formatDuration, parseDuration } from './prune/duration.js';
import { parseColumnPatterns, parseMaskRules } from './source/column-policy.js';
import { parseSchemaMap } from './schema/target-schemas.js';
import { parsePatterns } from './source/selection.js';

/** A libpq URL setting (shared with the API's configuration). */
export const postgresUrl = z
  .string({ error: 'is required' })
  .trim()
  .min(1, 'is required')
  .refine((value) => /^postgres(ql)?:\/\/[^/]/.test(value) && URL.canParse(value), {
    message: 'must be a PostgreSQL URL like postgres://user:password@host:5432/database',
  });

/** Replication slot names: lower-case letters, digits and underscores, at most 63. */
const slotName = z.string().regex(/^[a-z0-9_]{1,63}$/, 'must be 1-63 lower-case letters, digits or underscores');
const identifier = z.string().min(1, 'must not be empty').max(63, 'must be at most 63 characters');

/** Seconds in a duration (`30d`, `12h`, `90m`, `45s`) of at least `min`; otherwise an issue, saying what is accepted. */
function durationSeconds(text: string, min: number, ctx: z.RefinementCtx, also = ''): number {
  const seconds = parseDuration(text);
  if (seconds !== null && seconds >= min) return seconds;
  ctx.addIssue({
    code: 'custom',
    message: `must be a duration of at least ${formatDuration(min)} like 30d, 12h, 90m or 45s${also}`,
  });
  return z.NEVER;
}

const duration = (min: number) => z.string().transform((text, ctx): number => durationSeconds(text, min, ctx));

/** A duration, or `off` (null). */
const durationOrOff = (min: number) =>
  z
    .string()
    .transform((text, ctx): number | null =>
      text.trim().toLowerCase() === 'off' ? null : durationSeconds(text, min, ctx, ', or off'),
    );

/** A comma-separated list parsed by `parse` (which throws a sentence), kept as written. */
const patternList = (parse: (list: string) => { text: string }[]) =>
  z
    .string()
    .default('')
    .transform((list, ctx): string[] => {
      try {
        return parse(list).map((p) => p.text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    });

/** The shortest ELT_MASK_KEY accepted: a short key lets anyone hash likely values and compare. */
export const MASK_KEY_MIN_LENGTH = 16;

const booleanSetting = z
  .enum(['true', 'false'], { error: 'must be true or false' })
  .default('false')
  .transform((value) => value === 'true');

const positiveInt = (max: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(max, `must be at most ${max}`);

export const configSchema = z
  .object({
    sourceUrl: postgresUrl,
    destinationUrl: postgresUrl,
    slot: slotName.default('elt_slot'),
    publication: identifier.default('elt_pub'),
    sourceSchemas: z
      .string()
      .default('public')
      .transform((value) =>
        value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .pipe(z.array(identifier).min(1, 'must name at least one schema')),
    /** Only these tables of the source schemas are replicated (`schema.table` globs); empty: every table. */
    includeTables: patternList(parsePatterns),
    /** These tables are never replicated, even when included. */
    excludeTables: patternList(parsePatterns),
    /** Drop the replica of a table that stops being selected (it is kept otherwise). */
    dropUnselected: booleanSetting,
    /** Columns never written to the destination (`schema.table.column` globs). */
    excludeColumns: patternList(parseColumnPatterns),
    /** Columns masked before any value reaches the destination (`schema.table.column:method`). */
    maskColumns: patternList(parseMaskRules),
    /** The secret of hash masks; never logged nor shown. */
    maskKey: z
      .string()
      .default('')
      .transform((value) => (value === '' ? null : value))
      .refine((value) => value === null || value.length >= MASK_KEY_MIN_LENGTH, {
        message: `must be at least ${MASK_KEY_MIN_LENGTH} characters`,
      }),
    targetSchema: identifier.default('staging'),
    /** Source schema → target schema, for the schemas whose tables do not land in targetSchema. */
    targetSchemaMap: z
      .string()
      .default('')
      .transform((text, ctx): Record<string, string> => {
        try {
          return parseSchemaMap(text);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      }),
    metricsPort: z.coerce
      .number({ error: 'must be a whole number' })
      .int('must be a whole number')
      .min(0, 'must be 0 (off) or a port')
      .max(65535, 'must be a port number')
      .default(9464),
    deleteMode: z.enum(['hard', 'soft'], { error: 'must be hard or soft' }).default('hard'),
    /** At most this many rows per destination transaction (many small source transactions are grouped). */
    batchMaxRows: positiveInt(1_000_000).default(20_000),
    /** A destination transaction stays open at most this long before it commits. */
    batchMaxMs: positiveInt(60_000).default(200),
    /** Set REPLICA IDENTITY FULL on tables without a primary key before publishing them (the role must own them). */
    replicaIdentityFull: z
      .enum(['true', 'false'], { error: 'must be true or false' })
      .default('false')
      .transform((value) => value === 'true'),
    /** Copies running at once during the snapshot (tables, or parts of a big one), each a source and a destination connection. */
    snapshotJobs: positiveInt(64).default(2),
    /** Tables bigger than this many MB are copied in parts of about this size, in parallel; 0 = never split. */
    snapshotSplitMb: z.coerce
      .number({ error: 'must be a whole number' })
      .int('must be a whole number')
      .min(0, 'must be 0 (never split) or megabytes')
      .max(1_048_576, 'must be at most 1048576 (1 TB)')
      .default(64),
    /** Soft-deleted rows older than this many seconds are pruned by the replicator; null: kept forever. */
    softDeleteRetention: durationOrOff(1).default(null),
    /** How often, in seconds, the replicator looks for soft-deleted rows past the retention. */
    pruneInterval: duration(1).default(3_600),
    /** Seconds between two runs of the background verifier in `elt replicate`; 0 = off. */
    verifyInterval: z.coerce
      .number({ error: 'must be a whole number' })
      .int('must be a whole number')
      .min(0, 'must be 0 (off) or seconds')
      .max(31_536_000, 'must be at most a year')
      .default(0),
    /** The verifier reads at most this many source rows per second. */
    verifyMaxRowsPerS: positiveInt(100_000_000).default(50_000),
    /** Queue a resync of a table the verifier found differing. */
    verifyRepair: z
      .enum(['true', 'false'], { error: 'must be true or false' })
      .default('false')
      .transform((value) => value === 'true'),
  })
  .superRefine((config, ctx) => {
    if (config.maskKey === null && parseMaskRules(config.maskColumns.join(',')).some((r) => r.method.kind === 'hash')) {
      ctx.addIssue({
        code: 'custom',
        path: ['maskKey'],
        message: `is required by the hash masks of ELT_MASK_COLUMNS (a secret of at least ${MASK_KEY_MIN_LENGTH} characters, the same for every run)`,
      });
    }
    const reserved = (schema: string) =>
      schema === 'elt' || schema === 'information_schema' || schema.startsWith('pg_');
    if (reserved(config.targetSchema))
      ctx.addIssue({
        code: 'custom',
        path: ['targetSchema'],
        message: `must not be ${config.targetSchema}: elt's control schema and the system schemas are no target`,
      });
    const reservedTargets = Object.values(config.targetSchemaMap).filter(reserved);
    if (reservedTargets.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['targetSchemaMap'],
        message: `must not name ${reservedTargets.join(', ')}: elt's control schema and the system schemas are no target`,
      });
    const unreplicated = Object.keys(config.targetSchemaMap).filter((s) => !config.sourceSchemas.includes(s));
    if (unreplicated.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['targetSchemaMap'],
        message: `maps ${unreplicated.join(', ')}, which ELT_SOURCE_SCHEMAS does not replicate (add ${unreplicated.length > 1 ? 'them' : 'it'} there, or remove ${unreplicated.length > 1 ? 'them' : 'it'} from the map)`,
      });
    }
    if (config.softDeleteRetention !== null && config.deleteMode !== 'soft') {
      ctx.addIssue({
        code: 'custom',
        path: ['softDeleteRetention'],
        message: 'needs ELT_DELETE_MODE=soft (only soft-delete mode keeps deleted rows)',
      });
    }
  });

export type Config = z.infer<typeof configSchema>;

/** A setting as the user sees it: its environment variable, its flag, the flag's value and what it does. */
export interface Setting {
  env: string;
  flag: string;
  /** The flag's value as `--help` shows it: `--slot <name>`. */
  arg: string;
  help: string;
}

/** Environment variable and command-line flag for each setting. */
export const SETTINGS: Record<keyof Config, Setting> = {
  sourceUrl: {
    env: 'ELT_SOURCE_URL',
    flag: 'source-url',
    arg: 'url',
    help: 'the source (OLTP) database, wal_level=logical',
  },
  destinationUrl: {
    env: 'ELT_DESTINATION_URL',
    flag: 'destination-url',
    arg: 'url',
    help: 'the destination (analytics) database',
  },
  slot: { env: 'ELT_SLOT', flag: 'slot', arg: 'name', help: 'logical replication slot on the source' },
  publication: {
    env: 'ELT_PUBLICATION',
    flag: 'publication',
    arg: 'name',
    help: 'publication on the source (created if absent and allowed)',
  },
  sourceSchemas: {
    env: 'ELT_SOURCE_SCHEMAS',
    flag: 'source-schemas',
    arg: 'list',
    help: 'comma-separated source schemas to replicate',
  },
  includeTables: {
    env: 'ELT_INCLUDE_TABLES',
    flag: 'include-tables',
    arg: 'globs',
    help: 'comma-separated schema.table globs (* and ?) of the tables to replicate (unset: every table of the schemas)',
  },
  excludeTables: {
    env: 'ELT_EXCLUDE_TABLES',
    flag: 'exclude-tables',
    arg: 'globs',
    help: 'comma-separated schema.table globs of tables never to replicate (wins over the include list)',
  },
  dropUnselected: {
    env: 'ELT_DROP_UNSELECTED',
    flag: 'drop-unselected',
    arg: 'true|false',
    help: 'drop the replica of a table that stops being selected (false keeps it, no longer updated)',
  },
  excludeColumns: {
    env: 'ELT_EXCLUDE_COLUMNS',
    flag: 'exclude-columns',
    arg: 'globs',
    help: 'comma-separated schema.table.column globs of columns never written to the destination',
  },
  maskColumns: {
    env: 'ELT_MASK_COLUMNS',
    flag: 'mask-columns',
    arg: 'list',
    help: 'comma-separated schema.table.column:method (hash, null or redact:N) of columns masked before they reach the destination',
  },
  maskKey: {
    env: 'ELT_MASK_KEY',
    flag: 'mask-key',
    arg: 'secret',
    help: 'the HMAC-SHA256 key of hash masks (at least 16 characters; keep it secret and the same across runs)',
  },
  targetSchema: {
    env: 'ELT_TARGET_SCHEMA',
    flag: 'target-schema',
    arg: 'name',
    help: 'destination schema that holds the replica tables',
  },
  targetSchemaMap: {
    env: 'ELT_TARGET_SCHEMA_MAP',
    flag: 'target-schema-map',
    arg: 'pairs',
    help: 'comma-separated source:target schema pairs (public:staging,sales:staging_sales); unmapped schemas go to the target schema',
  },
  metricsPort: {
    env: 'ELT_METRICS_PORT',
    flag: 'metrics-port',
    arg: 'port',
    help: 'port of the Prometheus /metrics endpoint (0 = off)',
  },
  deleteMode: {
    env: 'ELT_DELETE_MODE',
    flag: 'delete-mode',
    arg: 'hard|soft',
    help: 'soft keeps deleted rows with _deleted = true',
  },
  batchMaxRows: {
    env: 'ELT_BATCH_MAX_ROWS',
    flag: 'batch-max-rows',
    arg: 'n',
    help: 'rows per destination transaction at most',
  },
  batchMaxMs: {
    env: 'ELT_BATCH_MAX_MS',
    flag: 'batch-max-ms',
    arg: 'ms',
    help: 'under load, a destination transaction commits after this long (at once when nothing more has arrived)',
  },
  snapshotJobs: {
    env: 'ELT_SNAPSHOT_JOBS',
    flag: 'snapshot-jobs',
    arg: 'n',
    help: 'copies at once during the snapshot (tables or parts of a big one), each a source and a destination connection',
  },
  snapshotSplitMb: {
    env: 'ELT_SNAPSHOT_SPLIT_MB',
    flag: 'snapshot-split-mb',
    arg: 'mb',
    help: 'tables bigger than this are copied in parts of about this size, in parallel (0 = never split)',
  },
  softDeleteRetention: {
    env: 'ELT_SOFT_DELETE_RETENTION',
    flag: 'soft-delete-retention',
    arg: 'duration',
    help: 'soft-delete mode: prune rows deleted longer ago than this (30d, 12h…; off keeps them)',
  },
  pruneInterval: {
    env: 'ELT_PRUNE_INTERVAL',
    flag: 'prune-interval',
    arg: 'duration',
    help: 'how often to look for soft-deleted rows past the retention',
  },
  verifyInterval: {
    env: 'ELT_VERIFY_INTERVAL',
    flag: 'verify-interval',
    arg: 'seconds',
    help: 'verify the replica against the source every so many seconds (0 = off)',
  },
  verifyMaxRowsPerS: {
    env: 'ELT_VERIFY_MAX_ROWS_PER_S',
    flag: 'verify-max-rows-per-s',
    arg: 'n',
    help: 'source rows the verifier reads per second at most',
  },
  verifyRepair: {
    env: 'ELT_VERIFY_REPAIR',
    flag: 'verify-repair',
    arg: 'true|false',
    help: 'queue a resync of each table the verifier finds differing',
  },
  replicaIdentityFull: {
    env: 'ELT_REPLICA_IDENTITY_FULL',
    flag: 'replica-identity-full',
    arg: 'true|false',
    help: 'set REPLICA IDENTITY FULL on tables without a primary key (the role must own them)',
  },
};

/** Each setting's default as text (the URLs have none), read from the schema so that help never drifts from it. */
export function settingDefaults(): Partial<Record<keyof Config, string>> {
  const parsed = configSchema.parse({ sourceUrl: 'postgres://host/db', destinationUrl: 'postgres://host/db' });
  const out: Partial<Record<keyof Config, string>> = {};
  for (const key of Object.keys(SETTINGS) as Array<keyof Config>) {
    if (key === 'sourceUrl' || key === 'destinationUrl') continue;
    const value = parsed[key];
    if (value === null && key === 'maskKey') continue;
    if (key === 'softDeleteRetention' || key === 'pruneInterval')
      out[key] = value === null ? 'off' : formatDuration(value as number);
    else if (Array.isArray(value)) out[key] = value.join(',');
    else if (typeof value === 'object' && value !== null)
      out[key] = Object.entries(value)
        .map(([source, target]) => `${source}:${String(target)}`)
        .join(',');
    else out[key] = String(value);
  }
  return out;
}

/**
 * Build the config from the flags, the environment and the settings file named by the
 * `config` flag, in that order of precedence. Throws ConfigError with one sentence per bad
 * setting, naming where its value came from.
 */
export function loadConfig(env: NodeJS.ProcessEnv, flags: Record<string, string | undefined> = {}): Config {
  const file = flags.config !== undefined ? readConfigFile(flags.config, SETTINGS) : {};
  const raw: Record<string, string | undefined> = {};
  const fromFile = new Set<string>();
  for (const [key, { env: envName, flag }] of Object.entries(SETTINGS)) {
    const given = [flags[flag], env[envName]].find((v) => v !== undefined && v !== '');
    const value = given ?? file[key as keyof Config];
    if (value === undefined || value === '') continue;
    raw[key] = value;
    if (given === undefined) fromFile.add(key);
  }
  const parsed = configSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const sentences = parsed.error.issues.map((issue) => {
    const key = issue.path[0] as keyof Config;
    const setting = SETTINGS[key];
    const where = fromFile.has(key) ? ` (${fileKey(setting.env)} in ${flags.config})` : '';
    return `${setting.env} (--${setting.flag})${where} ${issue.message}.`;
  });
  throw new ConfigError(
    `Invalid configuration: ${sentences.join(' ')}`,
    'Fix the settings named above and start again.',
  );
}
