// cli/ room: `spool cluster up` under commander — the same flags as before (cli/cluster.ts runs it).
import { Command, InvalidArgumentError } from 'commander';
import { runClusterUp, type Engine } from '../cluster.js';
import { collect, keyValues } from './common.js';

interface UpFlags {
  brokers: number;
  dir: string;
  basePort: number;
  etcdPort: number;
  engine: Engine;
  host: string;
  config?: string;
  override: string[];
}

function between(min: number, max: number): (raw: string) => number {
  return (raw) => {
    if (!/^\d+$/.test(raw)) throw new InvalidArgumentError(`expected an integer, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max) throw new InvalidArgumentError(`must be between ${min} and ${max}`);
    return n;
  };
}

function engineArg(raw: string): Engine {
  if (raw !== 'native' && raw !== 'ts' && raw !== 'auto') throw new InvalidArgumentError('must be native, ts or auto');
  return raw;
}

export function clusterCommand(): Command {
  const cluster = new Command('cluster').description('a local multi-broker cluster: etcd plus N brokers as child processes');
  cluster
    .command('up')
    .description('start etcd and N brokers and run them until SIGINT/SIGTERM')
    .requiredOption('-n, --brokers <N>', 'number of brokers', between(1, 1000))
    .requiredOption('-d, --dir <dir>', 'directory for etcd and broker data and logs')
    .option('--base-port <port>', 'listener port of broker 1 (broker i: base-port + i - 1)', between(1, 65535), 9092)
    .option('--etcd-port <port>', 'etcd client port (peer port: etcd-port + 1)', between(1, 65534), 2379)
    .option('--engine <engine>', 'storage engine of every broker: native, ts or auto', engineArg, 'auto')
    .option('--host <host>', 'address every process listens on', '127.0.0.1')
    .option('-c, --config <file>', 'a server.properties applied to every broker')
    .option('-o, --override <key=value>', 'a setting for every broker; repeatable', collect, [])
    .addHelpText(
      'after',
      `
Starts etcd (data in <dir>/etcd, log <dir>/etcd.log; the binary is SPOOL_ETCD_BIN or \`etcd\` on
PATH), then N brokers, broker i with node.id=i, log.dirs=<dir>/broker-i, listener
PLAINTEXT://<host>:<base-port + i - 1>, its output in <dir>/broker-i.log. Prints one line per
process, then runs until SIGINT/SIGTERM: brokers stop first (SIGTERM, SIGKILL after 15 s), then etcd.`,
    )
    .action(async (_o: unknown, cmd: Command) => {
      const f = cmd.opts<UpFlags>();
      process.exitCode = await runClusterUp({
        brokers: f.brokers,
        dir: f.dir,
        basePort: f.basePort,
        etcdPort: f.etcdPort,
        engine: f.engine,
        host: f.host,
        propertiesFile: f.config,
        overrides: keyValues(f.override, '--override'),
      });
    });
  return cluster;
}
