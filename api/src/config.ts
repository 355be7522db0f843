/**
 * The API's configuration: environment variables parsed once with zod. Every bad value
 * becomes one sentence naming the variable and what it should be.
 */
import { z } from 'zod';
import { postgresUrl } from '../../replicator/src/config.js';
import { ConfigError } from '../../replicator/src/errors.js';

/** A token shorter than this is refused: it would be guessable. */
export const MIN_TOKEN_LENGTH = 16;

const flag = z
  .string()
  .trim()
  .toLowerCase()
  .refine((value) => ['true', 'false', '1', '0', 'yes', 'no'].includes(value), 'must be true or false')
  .transform((value) => ['true', '1', 'yes'].includes(value));

export const apiConfigSchema = z
  .object({
    port: z.coerce
      .number('must be a port number')
      .int('must be a whole number')
      .min(0, 'must be a port number (0 picks a free one)')
      .max(65535, 'must be a port number')
      .default(5001),
    host: z.string().trim().min(1, 'must not be empty').default('127.0.0.1'),
    destinationUrl: postgresUrl,
    token: z
      .string()
      .min(
        MIN_TOKEN_LENGTH,
        `must be at least ${MIN_TOKEN_LENGTH} characters (generate one with: openssl rand -hex 32)`,
      )
      .refine((value) => /^[\x21-\x7e]+$/.test(value), 'must be printable ASCII without spaces')
      .optional(),
    slot: z
      .string()
      .regex(/^[a-z0-9_]{1,63}$/, 'must be 1-63 lower-case letters, digits or underscores')
      .default('elt_slot'),
    readsNeedToken: flag.default(false),
    heartbeatMaxAgeS: z.coerce
      .number('must be a number of seconds')
      .positive('must be more than 0 seconds')
      .max(86_400, 'must be at most 86400 seconds')
      .default(30),
  })
  .superRefine((config, ctx) => {
    if (config.readsNeedToken && !config.token) {
      ctx.addIssue({
        code: 'custom',
        path: ['readsNeedToken'],
        message: 'is true, so ELT_API_TOKEN must be set as well',
      });
    }
  });

export type ApiConfig = z.output<typeof apiConfigSchema>;

/** The environment variable behind each setting. */
export const API_SETTINGS: Record<keyof ApiConfig, string> = {
  port: 'ELT_API_PORT',
  host: 'ELT_API_HOST',
  destinationUrl: 'ELT_DESTINATION_URL',
  token: 'ELT_API_TOKEN',
  slot: 'ELT_SLOT',
  readsNeedToken: 'ELT_API_READS_NEED_TOKEN',
  heartbeatMaxAgeS: 'ELT_API_HEARTBEAT_MAX_AGE_S',
};

/**
 * Build the API config from the environment. Empty variables count as unset. Throws
 * ConfigError (the CLI exits 2) with one sentence per bad setting.
 */
export function loadApiConfig(env: NodeJS.ProcessEnv): ApiConfig {
  const raw: Record<string, string> = {};
  for (const [key, name] of Object.entries(API_SETTINGS)) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = apiConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const sentences = parsed.error.issues.map(
    (issue) => `${API_SETTINGS[issue.path[0] as keyof ApiConfig]} ${issue.message}.`,
  );
  throw new ConfigError(
    `Invalid API configuration: ${sentences.join(' ')}`,
    'Fix the settings named above and start the API again.',
  );
}
