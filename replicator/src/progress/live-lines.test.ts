import { describe, expect, it } from 'vitest';
import { LiveLines } from './live-lines.js';

/** A terminal that applies the only escapes LiveLines writes: "n lines up to column 0" and "erase below". */
class FakeTerminal {
  screen: string[] = [''];
  columns = 40;

  write(text: string): void {
    // Terminal escapes are what this fake terminal reads.
    /* eslint-disable no-control-regex */
    for (const part of text.split(/(\x1b\[\d*F|\x1b\[J|\n)/)) {
      const up = /^\x1b\[(\d*)F$/.exec(part);
      /* eslint-enable no-control-regex */
      if (up) this.screen.splice(this.screen.length - Number(up[1]) - 1, Number(up[1]) + 1, '');
      else if (part === '\x1b[J') this.screen[this.screen.length - 1] = '';
      else if (part === '\n') this.screen.push('');
      else this.screen[this.screen.length - 1] += part;
    }
  }
}

describe('live status lines under the logs', () => {
  it('keeps the lines at the bottom, writes logs above them and drops a finished line', () => {
    const terminal = new FakeTerminal();
    const live = new LiveLines(terminal);
    live.set('a', 'snapshot public.a  10 rows');
    live.set('b', 'snapshot public.b  20 rows');
    live.log('{"msg":"table copied"}\n');
    expect(terminal.screen).toEqual([
      '{"msg":"table copied"}',
      'snapshot public.a  10 rows',
      'snapshot public.b  20 rows',
      '',
    ]);
    live.delete('a');
    live.log('{"msg":"streaming"}\n');
    expect(terminal.screen).toEqual([
      '{"msg":"table copied"}',
      '{"msg":"streaming"}',
      'snapshot public.b  20 rows',
      '',
    ]);
    live.delete('b');
    expect(terminal.screen).toEqual(['{"msg":"table copied"}', '{"msg":"streaming"}', '']);
  });

  it('cuts a line to the terminal width so it never wraps', () => {
    const terminal = new FakeTerminal();
    new LiveLines(terminal).set('a', 'x'.repeat(100));
    expect(terminal.screen[0]).toHaveLength(39);
    expect(terminal.screen[0]!.endsWith('…')).toBe(true);
  });
});
