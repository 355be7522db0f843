import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ColumnPolicy } from '../source/column-policy.js';
import { maskValue } from '../source/mask.js';
import { escapeCopyField, MaskCopyText, maskCopyRow, unescapeCopyField } from './mask-copy.js';

const KEY = 'a key of sixteen+ characters';
const policy = new ColumnPolicy([], ['a.b.c:hash'], KEY);
const hash = (s: string | Buffer) => maskValue({ kind: 'hash' }, Buffer.from(s), Buffer.from(KEY))!.toString();

describe('COPY text fields', () => {
  it.each([
    ['plain', 'plain'],
    ['a\\tb\\nc\\\\d\\re', 'a\tb\nc\\d\re'],
    ['\\b\\f\\v', '\b\f\v'],
    ['\\101\\x41\\x4', 'AA\x04'],
    ['é', 'é'],
  ])('%j unescapes to %j', (field, value) => {
    expect(unescapeCopyField(Buffer.from(field)).toString()).toBe(value);
  });

  it.each(['plain', 'tab\there', 'line\nbreak\r', 'back\\slash', ''])(
    'escapes %j so that it unescapes back',
    (value) => {
      expect(unescapeCopyField(escapeCopyField(Buffer.from(value))).toString()).toBe(value);
    },
  );
});

describe('maskCopyRow', () => {
  it('masks only the masked fields, from the value the server printed; NULL stays NULL', () => {
    const row = Buffer.from('1\ta\\tb\t\\N\tkept\\\\');
    const methods = [null, { kind: 'hash' } as const, { kind: 'hash' } as const, null];
    expect(maskCopyRow(row, methods, policy).toString()).toBe(`1\t${hash('a\tb')}\t\\N\tkept\\\\`);
  });

  it('writes a null mask as \\N and escapes a redacted head', () => {
    const row = Buffer.from('x\\ty\tz');
    expect(maskCopyRow(row, [{ kind: 'redact', keep: 2 }, { kind: 'null' }], policy).toString()).toBe('x\\t***\t\\N');
  });
});

describe('MaskCopyText', () => {
  it('masks rows cut anywhere across chunks', async () => {
    const text = '1\talice@example.com\n2\t\\N\n3\tbob\\nsmith\n';
    const chunks = [text.slice(0, 5), text.slice(5, 6), text.slice(6, 30), text.slice(30)].map((s) => Buffer.from(s));
    const out: Buffer[] = [];
    for await (const chunk of Readable.from(chunks).pipe(new MaskCopyText([null, { kind: 'hash' }], policy)))
      out.push(chunk as Buffer);
    expect(Buffer.concat(out).toString()).toBe(`1\t${hash('alice@example.com')}\n2\t\\N\n3\t${hash('bob\nsmith')}\n`);
  });
});
