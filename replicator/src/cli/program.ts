/**
 * The `elt` command line, on commander: each command with its own flags and `--help`, every
 * value flag written `--slot x` or `--slot=x`, unknown flags and arguments refused (exit 2).
 *
 * This module only parses: it hands the flags of a command, as strings keyed by flag name,
 * to the command's handler, which parses them with zod (loadConfig) together with the
 * environment. Flags win over the environment.
 */
import { Command, CommanderError, Option } from 'commander';
import { SETTINGS, settingDefaults, type Config } from '../config.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';

/** Flags as typed, by flag name (`source-url`), for loadConfig. */
export type Flags = Record<string, string>;

export interface Handlers {
  replicate(flags: Flags): Promise<number>;
  status(flags: Flags, options: { json: boolean; local: boolean }): Promise<number>;
  teardown(flags: Flags, options: { dropTarget: boolean; yes: boolean }): Promise<number>;
  verify(flags: Flags, options: { tables: string[] | undefined; json: boolean }): Promise<number>;
  api(): Promise<number>;
  up(): Promise<number>;
  down(options: { clean: boolean }): Promise<number>;
}

export interface Output {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The settings each command reads (all of them come from the environment too). */
const COMMAND_SETTINGS = {
  replicate: Object.keys(SETTINGS) as Array<keyof Config>,
  status: ['sourceUrl', 'destinationUrl', 'slot'],
  teardown: ['sourceUrl', 'destinationUrl', 'slot', 'publication', 'sourceSchemas', 'targetSchema', 'targetSchemaMap'],
  verify: ['sourceUrl', 'destinationUrl', 'slot', 'verifyMaxRowsPerS', 'verifyRepair'],
} satisfies Record<string, Array<keyof Config>>;

const SETTINGS_NOTE =
  'Each setting comes from its environment variable (in parentheses), or from the --config file; the flag wins over both, the variable over the file.';

/**
 * Turn commander's error text ("error: unknown option '--slt'\n(Did you mean --slot?)") into
 * one sentence that names the command and where its options are listed.
 */
export function usageSentence(commandPath: string, commanderText: string): string {
  const [first = '', ...rest] = commanderText.trim().split('\n');
  const what = first
    .replace(/^error:\s*/, '')
    .replace(/\.$/, '')
    .replace(/\. (\w)/g, (_m, c: string) => `; ${c.toLowerCase()}`);
  const suggestion = rest
    .join(' ')
    .trim()
    .replace(/^\((.*)\)$/, '$1')
    .replace(/^Did you mean/, 'did you mean')
    .replace(/\?$/, '');
  return `${commandPath}: ${what}${suggestion ? ` (${suggestion}?)` : ''}. Run ${commandPath} --help to see what it takes.\n`;
}

function settingOptions(command: Command, keys: Array<keyof Config>): Command {
  const defaults = settingDefaults();
  command.option(
    '--config <file>',
    'read settings from this YAML file (keys: the variables in lower case without ELT_)',
  );
  for (const key of keys) {
    const s = SETTINGS[key];
    const fallback = defaults[key];
    command.addOption(
      new Option(
        `--${s.flag} <${s.arg}>`,
        `${s.help} (${s.env}${fallback === undefined ? ', required' : `, default ${fallback}`})`,
      ),
    );
  }
  return command;
}

/** The flags of SETTINGS that were given, by flag name. */
function settingFlags(options: Record<string, unknown>, keys: Array<keyof Config>): Flags {
  const flags: Flags = {};
  if (typeof options.config === 'string') flags.config = options.config;
  for (const key of keys) {
    const value = options[key];
    if (typeof value === 'string') flags[SETTINGS[key].flag] = value;
  }
  return flags;
}

export function buildProgram(handlers: Handlers, version: string, out: Output, done: (code: number) => void): Command {
  const program = new Command('elt');
  const outputFor = (path: string) => ({
    writeOut: out.stdout,
    writeErr: out.stderr,
    outputError: (text: string, write: (s: string) => void) => write(usageSentence(path, text)),
  });
  program
    .description(
      'Change-data-capture ELT for PostgreSQL: one consistent snapshot, then every change from the logical replication slot, exactly once.',
    )
    .version(version, '-V, --version', 'print the version of elt')
    .helpOption('-h, --help', 'show help (elt <command> --help for a command)')
    .helpCommand('help [command]', 'show help for a command')
    .configureOutput(outputFor('elt'))
    .exitOverride()
    .addHelpText(
      'after',
      `\n${EXIT_CODES_HELP}\n\nThe settings and their environment variables: elt replicate --help.`,
    );

  const command = (name: string, description: string) =>
    program
      .command(name)
      .description(description)
      .helpOption('-h, --help', `show the help of elt ${name}`)
      .configureOutput(outputFor(`elt ${name}`))
      .addHelpText('after', `\n${EXIT_CODES_HELP}`);

  settingOptions(
    command(
      'replicate',
      "copy the source once (at the slot's exported snapshot), then apply every change; runs until stopped",
    ),
    COMMAND_SETTINGS.replicate,
  )
    .addHelpText('afterAll', `\n${SETTINGS_NOTE}`)
    .action(async (options: Record<string, unknown>) =>
      done(await handlers.replicate(settingFlags(options, COMMAND_SETTINGS.replicate))),
    );

  settingOptions(
    command('status', 'show the slot, applied LSN, lag and tables; fails when a server cannot be reached'),
    COMMAND_SETTINGS.status,
  )
    .option('--json', 'print JSON for machines')
    .option('--local', 'report on the local stack that `make up` started')
    .addHelpText('afterAll', `\n${SETTINGS_NOTE}`)
    .action(async (options: Record<string, unknown>) =>
      done(
        await handlers.status(settingFlags(options, COMMAND_SETTINGS.status), {
          json: options.json === true,
          local: options.local === true,
        }),
      ),
    );

  settingOptions(
    command(
      'teardown',
      "drop the replication slot and the publication on the source, and elt's state for the slot on the destination; prints what it will drop and needs --yes",
    ),
    COMMAND_SETTINGS.teardown,
  )
    .option('--drop-target', 'also drop the target schema (the replica tables) on the destination')
    .option('-y, --yes', 'drop without asking (otherwise it asks on a terminal, and drops nothing elsewhere)')
    .addHelpText('afterAll', `\n${SETTINGS_NOTE}`)
    .action(async (options: Record<string, unknown>) =>
      done(
        await handlers.teardown(settingFlags(options, COMMAND_SETTINGS.teardown), {
          dropTarget: options.dropTarget === true,
          yes: options.yes === true,
        }),
      ),
    );

  settingOptions(
    command(
      'verify',
      'compare the replica with the source, table by table, at consistent points while replication runs; exit 4 when rows differ',
    ),
    COMMAND_SETTINGS.verify,
  )
    .option('--tables <list>', 'comma-separated schema.table names (default: every replicated table)')
    .option('--json', 'print JSON for machines')
    .addHelpText(
      'afterAll',
      `\n${SETTINGS_NOTE}\nThe replicator must be streaming for the slot: each point waits until it has applied the source's snapshot.`,
    )
    .action(async (options: Record<string, unknown>) =>
      done(
        await handlers.verify(settingFlags(options, COMMAND_SETTINGS.verify), {
          tables:
            typeof options.tables === 'string'
              ? options.tables
                  .split(',')
                  .map((t) => t.trim())
                  .filter(Boolean)
              : undefined,
          json: options.json === true,
        }),
      ),
    );

  command('api', 'serve the REST API (settings from ELT_API_* and ELT_DESTINATION_URL, see the README)').action(
    async () => done(await handlers.api()),
  );
  command(
    'up',
    'start the local demo pipeline, each service checked healthy: two PostgreSQL clusters, the demo workload, the replicator, the API, Prometheus (when installed), a first dbt build, Airflow (ELT_AIRFLOW=0 leaves it out); settings in .elt/stack.env',
  ).action(async () => done(await handlers.up()));
  command('down', 'stop everything elt up started (its data stays in .elt/)')
    .option('--clean', 'also delete its data (.elt/)')
    .action(async (options: Record<string, unknown>) => done(await handlers.down({ clean: options.clean === true })));

  return program;
}

/**
 * Parse `argv` (without node and the script) and run the command. Returns the exit code:
 * help and version are 0, any parse error 2; a handler's own code otherwise. Errors thrown
 * by a handler propagate.
 */
export async function runCli(argv: string[], handlers: Handlers, version: string, out: Output): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(handlers, version, out, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  return code;
}
