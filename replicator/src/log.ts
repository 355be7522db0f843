/**
 * Structured logs: one JSON event per line (pino), with `lsn`, `table`, `txid` fields where
 * they apply. ELT_LOG_LEVEL sets the level; ELT_LOG_PRETTY=1 prints for humans through
 * pino-pretty, a development dependency: where it is not installed, the logs stay JSON and
 * the first line says why.
 *
 * Logs carry no secrets and no row data: passwords are redacted, and the fields in which
 * PostgreSQL quotes rows ("Failing row contains (…)", "Key (id)=(42) already exists",
 * "COPY t, line 2: …") are left out of logged errors unless the level is debug or finer.
 *
 * On a terminal, `elt replicate` passes the live progress lines (progress/live-lines.ts):
 * each log line is then written above them, still JSON.
 */
import { createRequire } from 'node:module';
import { pino, type Logger, type LoggerOptions } from 'pino';
import type { LiveLines } from './progress/live-lines.js';

export type { Logger };

/** Fields of a PostgreSQL error (node-postgres) that may quote the values of a row. */
export const ROW_DATA_ERROR_FIELDS = ['detail', 'where', 'internalQuery'] as const;

type SerializedError = Record<string, unknown> & { cause?: unknown };

/** pino's error serializer, minus the fields that may quote rows (in the error and its causes). */
export function errorWithoutRowData(error: Error): SerializedError {
  const out = pino.stdSerializers.err(error) as SerializedError;
  for (let e: unknown = out; e && typeof e === 'object'; e = (e as SerializedError).cause) {
    for (const field of ROW_DATA_ERROR_FIELDS) delete (e as SerializedError)[field];
  }
  return out;
}

export function createLogger(name = 'elt', terminal: LiveLines | null = null): Logger {
  const level = process.env.ELT_LOG_LEVEL ?? 'info';
  const options: LoggerOptions = {
    name,
    level,
    redact: ['*.password', 'password', '*.maskKey', 'maskKey'],
    serializers: pino.levels.values[level]! > pino.levels.values.debug! ? { err: errorWithoutRowData } : {},
  };
  if (process.env.ELT_LOG_PRETTY === '1') {
    const pretty = prettyTransport(createRequire(import.meta.url).resolve);
    if ('target' in pretty) return pino({ ...options, transport: pretty });
    const logger = pino(options, pino.destination(2));
    logger.warn(pretty.warning);
    return logger;
  }
  if (terminal) return pino(options, { write: (line: string) => terminal.log(line) });
  return pino(options, pino.destination(2));
}

/**
 * pino-pretty as a transport to stderr, or why not: it is a development dependency, absent
 * from a production install (npm ci --omit=dev), and pino would fail in its worker thread.
 */
export function prettyTransport(
  resolve: (id: string) => string,
): { target: string; options: { destination: number } } | { warning: string } {
  try {
    resolve('pino-pretty');
    return { target: 'pino-pretty', options: { destination: 2 } };
  } catch {
    return {
      warning:
        'ELT_LOG_PRETTY=1 needs the pino-pretty package, which this install lacks (it is a development dependency): logging JSON instead. Install it with npm install pino-pretty, or pipe the logs through npx pino-pretty.',
    };
  }
}
