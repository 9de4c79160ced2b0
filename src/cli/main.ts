#!/usr/bin/env node
// cli/ room: `spool start [--config server.properties] [--engine native|ts|auto] [--override key=value]…`
// and `spool cluster up` (etcd plus N broker processes, cli/cluster.ts).
// SIGTERM/SIGINT stop the broker (or the cluster) cleanly and exit 0.
import pino from 'pino';
import { Broker } from '../broker.js';
import { ConfigError, type RawConfig } from '../config/index.js';
import { CLUSTER_USAGE, clusterUp } from './cluster.js';

const USAGE = `Usage: spool start [--config <server.properties>] [--engine native|ts|auto] [--override key=value]...
       spool cluster up --brokers <N> --dir <dir> [--base-port 9092] [--etcd-port 2379] [--engine auto] ...

Commands:
  start        run one broker in this process
  cluster up   run etcd and N brokers as child processes until Ctrl-C (spool cluster --help)

Settings use Kafka's names (log.dirs, listeners, num.partitions, ...). Priority, lowest first:
defaults, the properties file, SPOOL_<KEY> environment variables (log.dirs -> SPOOL_LOG_DIRS),
--engine / --override flags.`;

interface StartArgs {
  propertiesFile?: string;
  overrides: RawConfig;
}

function parseStartArgs(argv: string[]): StartArgs {
  const args: StartArgs = { overrides: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes('=') && arg.startsWith('--') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv.at(++i);
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--config':
      case '-c':
        args.propertiesFile = value();
        break;
      case '--engine':
        args.overrides['spool.engine'] = value();
        break;
      case '--override':
      case '-o': {
        const kv = value();
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new Error(`--override expects key=value, got "${kv}"`);
        args.overrides[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      default:
        throw new Error(`unknown argument "${arg}"`);
    }
  }
  return args;
}

async function main(argv: string[]): Promise<number> {
  const command = argv.at(0);
  const rest = argv.slice(1);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return command === undefined ? 1 : 0;
  }
  if (command === 'cluster') {
    const sub = rest.at(0);
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help' || rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(CLUSTER_USAGE + '\n');
      return sub === undefined ? 1 : 0;
    }
    if (sub !== 'up') {
      process.stderr.write(`unknown cluster command "${sub}"\n${CLUSTER_USAGE}\n`);
      return 1;
    }
    return clusterUp(rest.slice(1));
  }
  if (command !== 'start') {
    process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
    return 1;
  }
  const logger = pino({ name: 'spool', level: process.env.SPOOL_LOG_LEVEL ?? 'info' });
  let broker: Broker;
  try {
    const args = parseStartArgs(rest);
    broker = new Broker({ propertiesFile: args.propertiesFile, overrides: args.overrides, logger });
    await broker.start();
  } catch (err) {
    if (err instanceof ConfigError || (err instanceof Error && /argument|needs a value|expects/.test(err.message))) {
      logger.fatal({ reason: err.message }, 'invalid configuration');
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    logger.fatal({ err }, 'broker failed to start');
    return 1;
  }
  return new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) return;
      signalled = true;
      logger.info({ signal }, 'shutting down');
      broker.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'unclean shutdown');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
