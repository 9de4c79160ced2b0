#!/usr/bin/env node
// cli/ room: the `spool` command (commander). `start` and `cluster up` run brokers; `topic`,
// `group`, `produce` and `consume` talk the Kafka protocol to any broker (Spool or Apache Kafka)
// with the project's own client (cli/admin-client.ts); `config list` prints the settings schema.
// Operator errors and broker errors print one line (`spool: …`, Kafka's error name first for the
// latter) on stderr and exit 1.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { BrokerError, CliError } from './admin-client.js';
import { clusterCommand } from './commands/cluster.js';
import { configCommand } from './commands/config.js';
import { consumeCommand } from './commands/consume.js';
import { groupCommand } from './commands/group.js';
import { produceCommand } from './commands/produce.js';
import { startCommand } from './commands/start.js';
import { topicCommand } from './commands/topic.js';

function packageVersion(): string {
  // dist/src/cli/main.js → package.json at the repository (or installed package) root.
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

function buildProgram(): Command {
  const program = new Command('spool')
    .description('Spool: a Kafka-compatible broker, and tools that work against any Kafka cluster')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpCommand(true)
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Examples:
  spool start --config config/server.properties
  spool topic create orders --partitions 3 --bootstrap-server localhost:9092
  printf 'k1\\tv1\\n' | spool produce orders --key-separator '\\t'
  spool consume orders --from-beginning --format json --max-messages 10
  spool group describe my-group`,
    );
  for (const cmd of [startCommand(), clusterCommand(), topicCommand(), groupCommand(), produceCommand(), consumeCommand(), configCommand()]) {
    program.addCommand(cmd);
  }
  // Every command (and subcommand) reports its errors through our handler below.
  const configure = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.configureOutput({ outputError: (str, write) => write(str.startsWith('error:') ? `spool: ${str.slice(7)}` : str) });
    for (const sub of cmd.commands) configure(sub);
  };
  configure(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with code 0; a usage error was already printed.
      return err.exitCode;
    }
    if (err instanceof BrokerError || err instanceof CliError) {
      process.stderr.write(`spool: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`spool: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
