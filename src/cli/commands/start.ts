// cli/ room: `spool start` — one broker in this process. JSON logs (pino) on stdout, or
// pino-pretty with --log-format pretty. A start-up failure is one plain line on stderr naming the
// cause and the setting to change, exit code 1; SIGTERM/SIGINT stop cleanly with exit code 0.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import pino, { type Logger } from 'pino';
import type { Broker } from '../../broker.js';
import { ConfigError, brokerConfigByName, envNameFor, type BrokerConfig, type RawConfig } from '../../config/index.js';
import { collect, keyValues } from './common.js';

interface StartFlags {
  config?: string;
  engine?: string;
  override: string[];
  logFormat: 'json' | 'pretty';
  logLevel?: string;
}

function logFormatArg(raw: string): 'json' | 'pretty' {
  if (raw !== 'json' && raw !== 'pretty') throw new InvalidArgumentError('must be json or pretty');
  return raw;
}

export async function makeLogger(format: 'json' | 'pretty', level: string): Promise<Logger> {
  if (format === 'pretty') {
    const { default: pretty } = await import('pino-pretty');
    return pino({ name: 'spool', level }, pretty({ destination: 1, sync: true, colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino({ name: 'spool', level });
}

/** Where a setting can be changed, for the error line. */
function whereToSet(key: string): string {
  if (key === 'spool.engine') return 'set --engine (spool.engine) to native, ts or auto';
  return `set ${key} (in the properties file, ${envNameFor(key)} or --override ${key}=...)`;
}

/** Node's errno error, if `err` is one. */
function errno(err: unknown): NodeJS.ErrnoException | null {
  if (!(err instanceof Error)) return null;
  const e: NodeJS.ErrnoException = err;
  return typeof e.code === 'string' ? e : null;
}

const ADMIN_LISTENERS = 'spool.admin.listeners';

const FS_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'ENOSPC', 'EEXIST', 'ENOENT', 'EISDIR', 'EDQUOT']);

/**
 * One line saying why `spool start` failed and what to change. `config` is the broker's settings
 * when they were valid.
 */
export function describeStartFailure(err: unknown, config: BrokerConfig | null): string {
  if (err instanceof ConfigError) {
    if (err.key === '--config') return `cannot read the properties file ${err.value ?? ''}: ${err.problem.replace(/^cannot read file: /, '')}; check the --config path`;
    return `invalid value ${JSON.stringify(err.value)} for ${err.key}: ${err.problem}; ${whereToSet(err.key)}`;
  }
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  // broker.ts's DataDirLockedError (Kafka's .lock file), recognised by name: the broker module is
  // loaded lazily, only by `start`.
  if (err instanceof Error && err.name === 'DataDirLockedError') {
    const { dir, holder } = err as Error & { dir?: string; holder?: { pid?: number; hostname?: string } | null };
    const who = holder?.pid !== undefined ? ` (pid ${holder.pid}${holder.hostname !== undefined ? ` on ${holder.hostname}` : ''})` : '';
    const dirKey = config?.has('log.dirs') === false ? 'log.dir' : 'log.dirs';
    // Kafka's own message first (scripts and people search for it), then what to do.
    return `${message} In use by another broker${who}; stop it or set ${dirKey} to another directory (${dir ?? config?.logDir ?? '?'})`;
  }
  if (message.includes('native storage engine unavailable')) return `${message}; set --engine (spool.engine) to ts or auto`;
  const e = errno(err);
  if (e !== null && config !== null) {
    const listeners = config.getString('listeners');
    const { host, port } = config.listener();
    if (e.code === 'EADDRINUSE') {
      const busyPort = (e as NodeJS.ErrnoException & { port?: unknown }).port;
      const busy = typeof busyPort === 'number' ? busyPort : port;
      // Another listener of the broker (the admin HTTP plane) may be the one whose port is taken.
      if (busy !== port && brokerConfigByName.has(ADMIN_LISTENERS)) {
        return `admin HTTP port ${busy} is in use (${ADMIN_LISTENERS}=${config.getString(ADMIN_LISTENERS)}); set ${ADMIN_LISTENERS} to a free port, or to nothing to turn it off`;
      }
      return `listener port ${busy} is in use (listeners=${listeners}); set listeners to a free port`;
    }
    if (e.code === 'EADDRNOTAVAIL') return `listener host ${host} is not an address of this machine (listeners=${listeners}); set listeners to a local address`;
    if (e.code === 'EACCES' && e.syscall === 'listen') return `no permission to listen on port ${port} (listeners=${listeners}); set listeners to a port above 1023`;
    if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return `listener host ${host} does not resolve (listeners=${listeners}); set listeners to a resolvable host`;
    // Only a file-system error at (or above) the data directory is about the data directory.
    const atDataDir = e.path === undefined || resolve(e.path).startsWith(resolve(config.logDir)) || resolve(config.logDir).startsWith(resolve(e.path));
    if (e.code !== undefined && FS_CODES.has(e.code) && atDataDir) {
      const dirKey = config.has('log.dirs') ? 'log.dirs' : 'log.dir';
      const path = e.path !== undefined ? ` (${e.code} at ${e.path})` : ` (${e.code})`;
      return `data directory ${config.logDir} is not writable${path}; set ${dirKey} to a writable directory`;
    }
  }
  return `broker failed to start: ${message}`;
}

/** Creates the data directory and checks it is writable, before anything else starts. */
function checkDataDir(config: BrokerConfig): void {
  mkdirSync(config.logDir, { recursive: true });
  accessSync(config.logDir, constants.W_OK | constants.X_OK);
}

/**
 * Binds the client listener's port for a moment (a fixed port only), so a port that is taken is
 * reported before any service starts. The broker's own bind still decides; this only comes first.
 */
function checkListenerPort(config: BrokerConfig): Promise<void> {
  const { host, port } = config.listener();
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port, host: host === '' ? undefined : host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

async function start(flags: StartFlags): Promise<number> {
  const overrides: RawConfig = keyValues(flags.override, '--override');
  if (flags.engine !== undefined) overrides['spool.engine'] = flags.engine;
  const logger = await makeLogger(flags.logFormat, flags.logLevel ?? process.env.SPOOL_LOG_LEVEL ?? 'info');
  let broker: Broker | null = null;
  try {
    // Loaded here, so the client commands and --help do not load the whole broker.
    const { Broker: BrokerClass } = await import('../../broker.js');
    broker = new BrokerClass({ propertiesFile: flags.config, overrides, logger });
    checkDataDir(broker.config);
    await checkListenerPort(broker.config);
    await broker.start();
  } catch (err) {
    const line = describeStartFailure(err, broker?.config ?? null);
    logger.fatal({ reason: line }, 'broker failed to start');
    logger.flush();
    process.stderr.write(`spool: ${line}\n`);
    // Whatever the failed start left open (a timer, an etcd client) must not keep the process alive.
    setTimeout(() => process.exit(1), 200).unref();
    return 1;
  }
  const running = broker;
  return new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) return;
      signalled = true;
      logger.info({ signal }, 'shutting down');
      running.stop().then(
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

export function startCommand(): Command {
  return new Command('start')
    .description('run one broker in this process (until SIGTERM or Ctrl-C)')
    .option('-c, --config <file>', 'a server.properties file (Kafka\'s setting names)')
    .option('--engine <engine>', 'storage engine: native, ts or auto (spool.engine)')
    .option('-o, --override <key=value>', 'a setting, highest priority; repeatable', collect, [])
    .option('--log-format <format>', 'json (one object per line, on stdout) or pretty (for humans)', logFormatArg, 'json')
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace (default: SPOOL_LOG_LEVEL or info)')
    .addHelpText(
      'after',
      `
Settings use Kafka's names (log.dirs, listeners, num.partitions, ...; \`spool config list\`).
Priority, lowest first: defaults, the properties file, SPOOL_<KEY> environment variables
(log.dirs -> SPOOL_LOG_DIRS), --engine / --override flags.`,
    )
    .action(async (_o: unknown, cmd: Command) => {
      process.exitCode = await start(cmd.opts<StartFlags>());
    });
}
