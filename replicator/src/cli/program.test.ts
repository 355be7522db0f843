import { describe, expect, it } from 'vitest';
import { runCli, usageSentence, type Flags, type Handlers } from './program.js';

interface Call {
  command: string;
  flags?: Flags;
  options?: unknown;
}

async function parse(argv: string[]): Promise<{ code: number; calls: Call[]; stdout: string; stderr: string }> {
  const calls: Call[] = [];
  const handlers: Handlers = {
    replicate: async (flags) => (calls.push({ command: 'replicate', flags }), 0),
    status: async (flags, options) => (calls.push({ command: 'status', flags, options }), 0),
    teardown: async (flags, options) => (calls.push({ command: 'teardown', flags, options }), 7),
    verify: async (flags, options) => (calls.push({ command: 'verify', flags, options }), 4),
    api: async () => (calls.push({ command: 'api' }), 0),
    up: async () => (calls.push({ command: 'up' }), 0),
    down: async (options) => (calls.push({ command: 'down', options }), 0),
  };
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, handlers, '9.8.7', { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, calls, stdout, stderr };
}

describe('elt command line', () => {
  it.each([[['teardown', '--slot', 'scratch_slot']], [['teardown', '--slot=scratch_slot']]])(
    'takes a value flag with a space or an equals sign: %j',
    async (argv) => {
      const { code, calls } = await parse(argv);
      expect(code).toBe(7);
      expect(calls).toEqual([
        { command: 'teardown', flags: { slot: 'scratch_slot' }, options: { dropTarget: false, yes: false } },
      ]);
    },
  );

  it('passes every setting flag of replicate by its flag name, and the booleans of teardown', async () => {
    const replicate = await parse([
      'replicate',
      '--source-url',
      'postgres://a/b',
      '--destination-url=postgres://c/d',
      '--batch-max-rows',
      '10',
      '--replica-identity-full',
      'true',
    ]);
    expect(replicate.calls[0]!.flags).toEqual({
      'source-url': 'postgres://a/b',
      'destination-url': 'postgres://c/d',
      'batch-max-rows': '10',
      'replica-identity-full': 'true',
    });
    const teardown = await parse(['teardown', '--target-schema', 'scratch', '--drop-target', '-y']);
    expect(teardown.calls[0]).toEqual({
      command: 'teardown',
      flags: { 'target-schema': 'scratch' },
      options: { dropTarget: true, yes: true },
    });
    const verify = await parse(['verify', '--tables', 'public.a, sales.b', '--json', '--verify-repair', 'true']);
    expect(verify.code).toBe(4);
    expect(verify.calls[0]).toEqual({
      command: 'verify',
      flags: { 'verify-repair': 'true' },
      options: { tables: ['public.a', 'sales.b'], json: true },
    });
    const status = await parse(['status', '--json', '--local']);
    expect(status.calls[0]!.options).toEqual({ json: true, local: true });
    for (const command of ['replicate', 'status', 'teardown', 'verify']) {
      const withFile = await parse([command, '--config', 'elt.yaml']);
      expect(withFile.calls[0]!.flags, command).toEqual({ config: 'elt.yaml' });
    }
  });

  it.each([
    [
      ['teardown', '--slott', 'x'],
      /^elt teardown: unknown option '--slott' \(did you mean --slot\?\)\. Run elt teardown --help to see what it takes\.\n$/,
    ],
    [['status', '--publication', 'p'], /^elt status: unknown option '--publication'/],
    [['replicate', '--slot'], /^elt replicate: option '--slot <name>' argument missing\./],
    [['status', 'extra'], /^elt status: too many arguments for 'status'; expected 0 arguments but got 1\./],
    [['bogus'], /^elt: unknown command 'bogus'\./],
    [['--slot', 'x', 'teardown'], /^elt: unknown option '--slot'/],
  ])('refuses %j with exit 2, one line, and runs nothing', async (argv, sentence) => {
    const { code, calls, stderr, stdout } = await parse(argv);
    expect(code).toBe(2);
    expect(calls).toEqual([]);
    expect(stderr).toMatch(sentence);
    expect(stdout).toBe('');
  });

  it("prints each command's own help, and the exit codes", async () => {
    const replicate = await parse(['replicate', '--help']);
    expect(replicate.code).toBe(0);
    expect(replicate.calls).toEqual([]);
    expect(replicate.stdout).toMatch(/^Usage: elt replicate \[options\]/);
    expect(replicate.stdout).toContain('--batch-max-rows <n>');
    expect(replicate.stdout).toMatch(
      /--slot <name>\s+logical replication slot on the source\s+\(ELT_SLOT,\s+default elt_slot\)/,
    );
    const teardown = await parse(['teardown', '-h']);
    expect(teardown.stdout).toMatch(/^Usage: elt teardown \[options\]/);
    expect(teardown.stdout).toContain('--yes');
    expect(teardown.stdout).not.toContain('--batch-max-rows');
    const top = await parse(['--help']);
    expect(top.stdout).toMatch(/^Usage: elt \[options\] \[command\]/);
    expect(top.stdout).toContain('Exit codes:\n  0  done\n  1  failed');
  });

  it('prints the version; no command prints the help and exits 2', async () => {
    expect(await parse(['--version'])).toMatchObject({ code: 0, stdout: '9.8.7\n', calls: [] });
    const none = await parse([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^Usage: elt/);
  });
});

describe('usageSentence', () => {
  it("makes one sentence of commander's error and its suggestion", () => {
    expect(usageSentence('elt status', "error: unknown option '--jsn'\n(Did you mean --json?)")).toBe(
      "elt status: unknown option '--jsn' (did you mean --json?). Run elt status --help to see what it takes.\n",
    );
  });
});
