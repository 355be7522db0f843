/** Test helper: values a masking test hides and then searches for, and their hashes under a test key. */
import { createHmac, randomBytes } from 'node:crypto';

/** ELT_MASK_KEY of a test run. */
export const MASK_KEY = randomBytes(24).toString('hex');

/** What `hash` makes of a value under MASK_KEY: HMAC-SHA256, hex. */
export const hmac = (value: string) => createHmac('sha256', MASK_KEY).update(value).digest('hex');

/** A distinctive clear value: 20 random letters, found nowhere by chance. */
export const clear = () =>
  Array.from(randomBytes(20), (b) => String.fromCharCode(0x61 + (b % 26)))
    .join('')
    .toUpperCase();
