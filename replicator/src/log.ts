/**
 * Structured logs: one JSON event per line (pino), with `lsn`, `table`, `txid` fields where
 * they apply. ELT_LOG_LEVEL sets the level; ELT_LOG_PRETTY=1 prints for humans.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name = 'elt'): Logger {
  const level = process.env.ELT_LOG_LEVEL ?? 'info';
  if (process.env.ELT_LOG_PRETTY === '1') {
    return pino({ name, level, transport: { target: 'pino-pretty', options: { destination: 2 } } });
  }
  return pino({ name, level, redact: ['*.password', 'password'] }, pino.destination(2));
}
