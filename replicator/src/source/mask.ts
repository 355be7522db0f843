/**
 * How a masked column's value is changed before anything else of elt sees it (ELT_MASK_COLUMNS):
 *
 * - `hash`: HMAC-SHA256 of the value's text with ELT_MASK_KEY, as 64 hex digits. The same value
 *   gives the same hash in every table, in the snapshot and in the stream, so joins still work;
 *   without the key it cannot be reversed by trying likely values.
 * - `null`: NULL.
 * - `redact:N`: the first N characters, then `***` (whatever the length, which stays hidden).
 *
 * NULL stays NULL with every method. Pure: bytes in, bytes out, the same function for the COPY
 * of a snapshot or resync and for the decoded stream.
 */
import { createHmac } from 'node:crypto';

export type MaskMethod = { kind: 'hash' } | { kind: 'null' } | { kind: 'redact'; keep: number };

/** What a redacted value ends with in place of the rest. */
export const REDACTED_TAIL = '***';

/** `hash`, `null` or `redact:N`; throws a sentence when it is none of them. */
export function parseMaskMethod(text: string): MaskMethod {
  if (text === 'hash') return { kind: 'hash' };
  if (text === 'null') return { kind: 'null' };
  const redact = /^redact:(\d{1,4})$/.exec(text);
  if (redact) return { kind: 'redact', keep: Number(redact[1]) };
  throw new Error(`'${text}' is not a mask method (hash, null or redact:N, N the characters kept)`);
}

export function maskMethodText(method: MaskMethod): string {
  return method.kind === 'redact' ? `redact:${method.keep}` : method.kind;
}

/** Whether the masked value is text whatever the column's type (the replica column becomes text). */
export function masksToText(method: MaskMethod): boolean {
  return method.kind !== 'null';
}

/** The masked value of a non-null value, as the text the replica stores, or null. */
export function maskValue(method: MaskMethod, value: Buffer, key: Buffer): Buffer | null {
  switch (method.kind) {
    case 'null':
      return null;
    case 'hash':
      return Buffer.from(createHmac('sha256', key).update(value).digest('hex'));
    case 'redact': {
      // The first N characters lie in the first 4N bytes (UTF-8): only those are decoded.
      const head = Array.from(value.subarray(0, 4 * method.keep).toString('utf8'))
        .slice(0, method.keep)
        .join('');
      return Buffer.from(head + REDACTED_TAIL);
    }
  }
}

/**
 * A short fingerprint of the key, recorded beside each table's policy: a new key gives other
 * hashes, so the replica is copied again. An HMAC of a constant: it tells nothing of the key.
 */
export function maskKeyFingerprint(key: Buffer): string {
  return createHmac('sha256', key).update('elt mask key fingerprint').digest('hex').slice(0, 16);
}
