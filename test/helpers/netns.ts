// test helpers: a small virtual network for partition tests, made of Linux network namespaces.
// A bridge in the test's own (root) namespace joins one namespace per host (etcd, each broker),
// each reached over a veth pair with its own address in 10.<a>.<b>.0/24. The test process sits on
// the bridge with client addresses (.1, .2, ...) that KafkaJS binds through a socket factory, so one
// test process can hold clients on both sides of a partition.
//
// cut(sideA, sideB) drops every packet between the two sides, both ways: a blackhole route in a
// host's namespace for each address of the other side, and for a client address an
// `ip rule from <client> to <peer> blackhole` in the root namespace. Established TCP connections
// then hang (as in a real partition) and resume once heal() deletes the routes and rules; a new
// connection across the cut fails at once (EINVAL: the sender's own blackhole refuses it).
//
// Names are unique per run (the test process id in base 36) and destroy() removes every namespace,
// veth, bridge and rule; a lab left behind by a process that no longer exists is swept at create().
// Needs root and iproute2 (`ip`); no iptables or nft.
import { spawnSync } from 'node:child_process';
import type { SpawnSpec } from '../../src/cli/process.js';

const NS_PREFIX = 'spnp-';
const LINK_PREFIX = 'np';

/** Runs `ip args...`; throws with its stderr when it fails (unless `ignoreFailure`). */
export function ip(args: string[], opts: { ignoreFailure?: boolean } = {}): string {
  const res = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (res.status !== 0 && opts.ignoreFailure !== true) {
    throw new Error(`ip ${args.join(' ')} failed (${res.status ?? res.signal ?? 'no status'}): ${res.stderr.trim() || (res.error?.message ?? '')}`);
  }
  return res.stdout;
}

/** Runs several `ip` commands in one process (`ip [-n ns] -batch -`), per namespace. */
function ipBatch(commands: Array<{ ns: string | null; args: string[] }>, opts: { ignoreFailure?: boolean } = {}): void {
  const byNs = new Map<string | null, string[]>();
  for (const c of commands) byNs.set(c.ns, [...(byNs.get(c.ns) ?? []), c.args.join(' ')]);
  for (const [ns, lines] of byNs) {
    const args = [...(ns === null ? [] : ['-n', ns]), ...(opts.ignoreFailure === true ? ['-force'] : []), '-batch', '-'];
    const res = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000, input: `${lines.join('\n')}\n` });
    if (res.status !== 0 && opts.ignoreFailure !== true) {
      throw new Error(`ip ${args.join(' ')} failed (${res.status ?? res.signal ?? 'no status'}): ${res.stderr.trim() || (res.error?.message ?? '')}`);
    }
  }
}

/**
 * Why this machine cannot build the lab, or null when it can: `ip` must run, the process must be
 * root, and a namespace must be creatable (containers without CAP_SYS_ADMIN cannot).
 */
export function netnsUnavailableReason(): string | null {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  const version = spawnSync('ip', ['-V'], { encoding: 'utf8', timeout: 10_000 });
  if (version.status !== 0) return 'iproute2 (`ip`) is not installed (apt-get install iproute2)';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `${NS_PREFIX}${process.pid.toString(36)}-probe`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8', timeout: 10_000 });
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe], { timeout: 10_000 });
  const probeLink = `${LINK_PREFIX}${process.pid.toString(36)}pr`;
  const link = spawnSync('ip', ['link', 'add', probeLink, 'type', 'bridge'], { encoding: 'utf8', timeout: 10_000 });
  if (link.status !== 0) return `cannot create a bridge: ${link.stderr.trim()}`;
  spawnSync('ip', ['link', 'del', probeLink], { timeout: 10_000 });
  return null;
}

/** A host of the lab: its own namespace, one address on the bridge. */
export interface NetHost {
  readonly name: string;
  readonly ns: string;
  readonly address: string;
}

/** One side of a cut: hosts (namespaces) and client addresses of the test process. */
export type Endpoint = NetHost | { readonly client: string };

function isHost(e: Endpoint): e is NetHost {
  return 'ns' in e;
}

function addressOf(e: Endpoint): string {
  return isHost(e) ? e.address : e.client;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces, links and rules of labs whose process is gone (a crashed earlier run). */
function sweepStaleLabs(): void {
  const owners = new Set<string>();
  for (const line of ip(['netns', 'list'], { ignoreFailure: true }).split('\n')) {
    const m = new RegExp(`^${NS_PREFIX}([0-9a-z]+)-`).exec(line.trim());
    if (m) owners.add(m[1]);
  }
  for (const line of ip(['-o', 'link', 'show'], { ignoreFailure: true }).split('\n')) {
    const m = new RegExp(`^\\d+: ${LINK_PREFIX}([0-9a-z]+)(?:br|h\\d+)[@:]`).exec(line);
    if (m) owners.add(m[1]);
  }
  for (const owner of owners) {
    const pid = parseInt(owner, 36);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pidAlive(pid)) continue;
    for (const line of ip(['netns', 'list'], { ignoreFailure: true }).split('\n')) {
      const ns = line.trim().split(' ')[0];
      if (ns.startsWith(`${NS_PREFIX}${owner}-`)) ip(['netns', 'del', ns], { ignoreFailure: true });
    }
    // Its rules live in the root namespace: those from its client addresses (on its bridge).
    const bridge = `${LINK_PREFIX}${owner}br`;
    const clients = [...ip(['-o', '-4', 'addr', 'show', 'dev', bridge], { ignoreFailure: true }).matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]);
    for (const line of ip(['rule', 'list'], { ignoreFailure: true }).split('\n')) {
      const m = /^\d+:\s+from (\S+) to (\S+) blackhole/.exec(line);
      if (m && clients.includes(m[1])) ip(['rule', 'del', 'from', m[1], 'to', m[2], 'blackhole'], { ignoreFailure: true });
    }
    ip(['link', 'del', bridge], { ignoreFailure: true });
  }
}

function subnetInUse(prefix: string): boolean {
  const routes = ip(['-4', 'route', 'show', 'table', 'all'], { ignoreFailure: true }) + ip(['-4', 'addr', 'show'], { ignoreFailure: true });
  return routes.includes(`${prefix}.`);
}

export class NetLab {
  private readonly hosts: NetHost[] = [];
  /** `ip` commands that undo each cut, run by heal(). */
  private undo: Array<{ ns: string | null; args: string[] }> = [];
  private destroyed = false;
  private readonly onExit = (): void => this.destroy();

  private constructor(
    /** Unique per run: the test process id in base 36. */
    readonly id: string,
    /** The first three octets of the lab's /24. */
    readonly prefix: string,
    readonly bridge: string,
  ) {}

  /**
   * Creates the bridge with `clients` addresses of the test process (.1, .2, ...). The first is the
   * primary address: connections the test makes without binding use it.
   */
  static create(clients = 2): NetLab {
    sweepStaleLabs();
    const id = process.pid.toString(36);
    let prefix = '';
    // Bounded: 20 tries for a /24 nothing on this machine uses.
    for (let attempt = 0; attempt < 20 && prefix === ''; attempt++) {
      const candidate = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}`;
      if (!subnetInUse(candidate)) prefix = candidate;
    }
    if (prefix === '') throw new Error('no free 10.x.y.0/24 for the network lab');
    const lab = new NetLab(id, prefix, `${LINK_PREFIX}${id}br`);
    process.once('exit', lab.onExit);
    try {
      ip(['link', 'add', lab.bridge, 'type', 'bridge']);
      for (let i = 1; i <= clients; i++) ip(['addr', 'add', `${prefix}.${i}/24`, 'dev', lab.bridge]);
      ip(['link', 'set', lab.bridge, 'up']);
    } catch (err) {
      lab.destroy();
      throw err;
    }
    return lab;
  }

  /** Client address i (1-based) of the test process. */
  client(i: number): { readonly client: string } {
    return { client: `${this.prefix}.${i}` };
  }

  /** Adds a host: namespace, veth to the bridge, address .<10 + n>; loopback up. */
  addHost(name: string): NetHost {
    const n = this.hosts.length + 1;
    const host: NetHost = { name, ns: `${NS_PREFIX}${this.id}-${name}`, address: `${this.prefix}.${10 + n}` };
    const outside = `${LINK_PREFIX}${this.id}h${n}`;
    this.hosts.push(host);
    ip(['netns', 'add', host.ns]);
    ip(['link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns]);
    ip(['link', 'set', outside, 'master', this.bridge]);
    ip(['link', 'set', outside, 'up']);
    ip(['-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
    ip(['-n', host.ns, 'link', 'set', 'eth0', 'up']);
    ip(['-n', host.ns, 'link', 'set', 'lo', 'up']);
    return host;
  }

  /** The same command, run inside `host`'s namespace (`ip netns exec` execs it: same pid). */
  wrap(host: NetHost, spec: SpawnSpec): SpawnSpec {
    return { ...spec, command: 'ip', args: ['netns', 'exec', host.ns, spec.command, ...spec.args] };
  }

  /**
   * Drops all traffic between every endpoint of `a` and every endpoint of `b`, both ways (one `ip`
   * process per namespace, so the cut takes effect within milliseconds).
   */
  cut(a: Endpoint[], b: Endpoint[]): void {
    const apply: Array<{ ns: string | null; args: string[] }> = [];
    const block = (from: Endpoint, to: Endpoint): void => {
      const target = addressOf(to);
      if (isHost(from)) {
        apply.push({ ns: from.ns, args: ['route', 'add', 'blackhole', `${target}/32`] });
        this.undo.push({ ns: from.ns, args: ['route', 'del', 'blackhole', `${target}/32`] });
      } else {
        apply.push({ ns: null, args: ['rule', 'add', 'from', from.client, 'to', target, 'blackhole'] });
        this.undo.push({ ns: null, args: ['rule', 'del', 'from', from.client, 'to', target, 'blackhole'] });
      }
    };
    for (const x of a) {
      for (const y of b) {
        // Two client addresses are both the test process: nothing to cut between them.
        if (!isHost(x) && !isHost(y)) continue;
        block(x, y);
        block(y, x);
      }
    }
    ipBatch(apply);
  }

  /** Undoes every cut (`ignoreFailure`: best effort, for cleanup). */
  heal(opts: { ignoreFailure?: boolean } = {}): void {
    ipBatch(this.undo, opts);
    this.undo = [];
  }

  /** Removes rules, namespaces, veths and the bridge (idempotent; kill the hosts' processes first). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.onExit);
    this.heal({ ignoreFailure: true });
    for (const [i, host] of this.hosts.entries()) {
      ip(['netns', 'del', host.ns], { ignoreFailure: true });
      ip(['link', 'del', `${LINK_PREFIX}${this.id}h${i + 1}`], { ignoreFailure: true });
    }
    ip(['link', 'del', this.bridge], { ignoreFailure: true });
  }
}
