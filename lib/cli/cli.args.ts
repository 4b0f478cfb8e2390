import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliUsageError } from '../errors/cli-usage.error.js';
import { cliEmptyOptionValue, cliMissingCommand, cliOptionNotForCommand, cliUnexpectedArgument, cliUnknownCommand, cliUsageProblem } from '../gateway-worker.messages.js';

/** The commands of `gateway-worker`. */
export type CliCommand = 'start' | 'stop' | 'restart' | 'reload' | 'status' | 'help';

/** What the command line asked for, once parsed and checked. */
export interface CliArgs {
  /** The command; `null` with `help` or `version` set means "print that and exit 0". */
  command: CliCommand | null;
  /** `--help`: print the help of `command` (or the global usage when `command` is null). */
  help: boolean;
  /** `--version`: print the package version. */
  version: boolean;
  daemon: boolean;
  json: boolean;
  config?: string;
  register?: string;
}

type OptionName = 'help' | 'version' | 'config' | 'daemon' | 'json' | 'register';

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  config: { type: 'string', short: 'c' },
  daemon: { type: 'boolean', short: 'd' },
  json: { type: 'boolean' },
  register: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const OPTION_HELP: Record<OptionName, string> = {
  help: '-h, --help              show this help',
  version: '-v, --version           print the version',
  config: '-c, --config <file>     configuration file (default: ./gateway-worker.config.json|.mjs|.js)',
  daemon: '-d, --daemon            run in the background (pid file + log file)',
  json: '    --json              machine-readable output',
  register: '    --register <addr>   Register address(es), comma-separated (default: the config\'s registerAddress,\n                          or GATEWAY_WORKER_REGISTER_ADDRESS); with it no config file is needed',
};

interface CommandSpec {
  summary: string;
  usage: string;
  options: OptionName[];
  details?: string;
}

/** Each command, its one-line summary, and the options it accepts (besides --help and --config). */
const COMMANDS: Record<Exclude<CliCommand, 'help'>, CommandSpec> = {
  start: {
    summary: 'start every tier of the config (foreground; Ctrl-C stops them in order)',
    usage: 'gateway-worker start [-d] [-c <file>]',
    options: ['daemon'],
    details:
      'In the foreground, Ctrl-C (or SIGTERM) stops the tiers in order, as "stop" does: "process" tiers,\n' +
      'then business workers, gateways, and the Register last. A second Ctrl-C kills them at once.',
  },
  stop: {
    summary: 'stop gracefully: workers finish their events, gateways close clients cleanly',
    usage: 'gateway-worker stop [-c <file>]',
    options: [],
  },
  restart: {
    summary: 'stop, then start (add -d to daemonize)',
    usage: 'gateway-worker restart [-d] [-c <file>]',
    options: ['daemon'],
  },
  reload: {
    summary: 'rolling restart of the business workers with new code; gateways keep every client',
    usage: 'gateway-worker reload [-c <file>]',
    options: [],
  },
  status: {
    summary: 'the whole cluster, found through the Register, and this host\'s processes',
    usage: 'gateway-worker status [--json] [--register <addr>] [-c <file>]',
    options: ['json', 'register'],
    details: 'The secret key comes from the config\'s secretKey or GATEWAY_WORKER_SECRET_KEY.',
  },
};

/** The global usage text. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  return [
    'Usage: gateway-worker <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(width)} ${spec.summary}`),
    `  ${'help'.padEnd(width)} help [command]: the help of a command`,
    '',
    'Options:',
    ...(['help', 'version', 'config'] as const).map((o) => `  ${OPTION_HELP[o]}`),
    '',
    'Run "gateway-worker <command> --help" for the options of a command.',
  ].join('\n');
}

/** The help of one command. */
export function commandHelp(command: Exclude<CliCommand, 'help'>): string {
  const spec = COMMANDS[command];
  return [
    `Usage: ${spec.usage}`,
    '',
    spec.summary.charAt(0).toUpperCase() + spec.summary.slice(1) + '.',
    ...(spec.details ? ['', spec.details] : []),
    '',
    'Options:',
    ...[...spec.options, 'config' as const, 'help' as const].map((o) => `  ${OPTION_HELP[o]}`),
  ].join('\n');
}

const isCommand = (c: string): c is CliCommand => c === 'help' || Object.hasOwn(COMMANDS, c);

/**
 * Parses `gateway-worker` arguments with `util.parseArgs` (strict): `--opt value` and
 * `--opt=value`, short flags, options before or after the command. Throws a CliUsageError (exit
 * code 2) for an unknown command or option, a missing or ambiguous value, an option the command
 * does not take, or a stray argument.
 */
export function parseCliArgs(argv: string[]): CliArgs {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // Node's advice about `--` for positionals starting with '-' does not apply to this CLI.
    const problem = (err as Error).message.split('\n')[0]!.replace(/ To specify a positional argument.*$/, '');
    const named = argv.find((a): a is Exclude<CliCommand, 'help'> => Object.hasOwn(COMMANDS, a));
    throw new CliUsageError(cliUsageProblem(problem, named ? commandHelp(named) : usage()));
  }
  const { values, positionals } = parsed;
  const [first, ...rest] = positionals;
  let command: CliCommand | null = null;
  if (first !== undefined) {
    if (!isCommand(first)) throw new CliUsageError(cliUnknownCommand(first, Object.keys(COMMANDS), usage()));
    command = first;
  }
  // `help start` is `start --help`.
  let help = values.help ?? false;
  if (command === 'help') {
    const topic = rest.shift();
    if (topic !== undefined && !Object.hasOwn(COMMANDS, topic)) throw new CliUsageError(cliUnknownCommand(topic, Object.keys(COMMANDS), usage()));
    command = (topic as CliCommand | undefined) ?? null;
    help = true;
  }
  if (rest.length) throw new CliUsageError(cliUnexpectedArgument(rest[0]!, command ? commandHelp(command as Exclude<CliCommand, 'help'>) : usage()));
  for (const key of ['config', 'register'] as const) {
    // `-c=file` would give the value "=file".
    if (values[key]?.startsWith('=')) throw new CliUsageError(cliUsageProblem(`Option --${key} got "${values[key]}": write --${key}=<value> or --${key} <value>`, usage()));
    if (values[key] === '') throw new CliUsageError(cliUsageProblem(cliEmptyOptionValue(key), usage()));
  }
  const version = values.version ?? false;
  if (!command && !help && !version) throw new CliUsageError(cliMissingCommand(usage()));
  if (command && command !== 'help' && !help) {
    const allowed = new Set<OptionName>([...COMMANDS[command].options, 'config', 'help', 'version']);
    for (const key of Object.keys(values) as OptionName[]) {
      if (!allowed.has(key)) throw new CliUsageError(cliOptionNotForCommand(key, command, commandHelp(command)));
    }
  }
  return {
    command,
    help,
    version,
    daemon: values.daemon ?? false,
    json: values.json ?? false,
    ...(values.config !== undefined && { config: values.config }),
    ...(values.register !== undefined && { register: values.register }),
  };
}
