// broker room tests (issue 8): max.connections, max.connections.per.ip and its overrides. A
// connection beyond a limit is closed at once and gets no answer, the rejections are logged at
// most once per interval, and the connections already open keep being answered.
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import t, { type Test } from 'tap';
import { Broker, startBroker, type RunningBroker } from '../../src/index.js';
import { ApiVersionsRequest } from '../../src/protocol/messages/api-versions.js';
import { frame, requestHeader, tempDir } from '../helpers/broker.js';

type Outcome = 'answered' | 'closed' | 'silent';

/** A bare client: connects from a chosen local address and asks ApiVersions. */
class Peer {
  private buffered = Buffer.alloc(0);
  private onFrame: (() => void) | null = null;
  private ended = false;
  private readonly whenClosed: Promise<void>;
  private nextId = 1;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      if (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) this.onFrame?.();
    });
    socket.on('error', () => undefined);
    this.whenClosed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.onFrame?.();
        resolve();
      }),
    );
  }

  static connect(port: number, localAddress = '127.0.0.1'): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(new Peer(s)));
      s.once('error', reject);
    });
  }

  /** Closed by the broker within `ms`? */
  async closedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      this.whenClosed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
    clearTimeout(timer);
    return closed;
  }

  /** Sends ApiVersions v3 and says whether an answer came within `ms`. */
  ask(ms = 2000): Promise<Outcome> {
    if (this.ended) return Promise.resolve('closed');
    const id = this.nextId++;
    const body = ApiVersionsRequest.encodeToBuffer({ clientSoftwareName: 'limits', clientSoftwareVersion: '1' }, 3);
    this.socket.write(frame(Buffer.concat([requestHeader(18, 3, id, true), body])));
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.onFrame = null;
        resolve('silent');
      }, ms);
      this.onFrame = () => {
        clearTimeout(timer);
        this.onFrame = null;
        if (this.buffered.length >= 8 && this.buffered.readInt32BE(4) === id) {
          this.buffered = this.buffered.subarray(4 + this.buffered.readInt32BE(0));
          resolve('answered');
        } else resolve('closed');
      };
      if (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) this.onFrame();
      else if (this.ended) this.onFrame();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

function captureLogs(): { logger: pino.Logger; lines: Array<{ msg: string; setting?: string; notLoggedSinceLastMessage?: number }> } {
  const lines: Array<{ msg: string; setting?: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as { msg: string });
      cb();
    },
  });
  return { logger: pino({ level: 'warn' }, stream), lines };
}

async function setup(t: Test, config: Record<string, string | number>, logger?: pino.Logger): Promise<RunningBroker> {
  const d = tempDir();
  const b = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1', engine: 'ts', config, logger, logLevel: 'silent' });
  t.teardown(async () => {
    await b.stop();
    d.cleanup();
  });
  return b;
}

t.test('max.connections=5: the 6th connection is closed at once, the first 5 are still answered', async (t) => {
  const { logger, lines } = captureLogs();
  const b = await setup(t, { 'max.connections': 5 }, logger);
  const peers: Peer[] = [];
  t.teardown(() => peers.forEach((p) => p.close()));
  for (let i = 0; i < 5; i++) {
    const p = await Peer.connect(b.port);
    peers.push(p);
    t.equal(await p.ask(), 'answered', `connection ${i + 1} answered`);
  }
  for (let i = 0; i < 10; i++) {
    const extra = await Peer.connect(b.port);
    peers.push(extra);
    t.ok(await extra.closedWithin(2000), `connection ${6 + i} closed by the broker`);
    t.equal(await extra.ask(200), 'closed', 'and never answered');
  }
  for (const [i, p] of peers.slice(0, 5).entries()) t.equal(await p.ask(), 'answered', `connection ${i + 1} still answered`);

  const rejections = lines.filter((l) => l.setting === 'max.connections');
  t.equal(rejections.length, 1, 'ten rejections, one log line (rate-limited)');
  t.match(rejections[0].msg, /Rejected connection from 127\.0\.0\.1: the broker already has the configured maximum of 5 connections \(max\.connections\)/);

  // A slot freed by a client that leaves is taken by the next one.
  peers[0].close();
  let admitted: Outcome = 'closed';
  for (let attempt = 0; attempt < 40 && admitted !== 'answered'; attempt++) {
    const p = await Peer.connect(b.port);
    peers.push(p);
    admitted = await p.ask(500);
    if (admitted !== 'answered') await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(admitted, 'answered', 'a new connection is accepted once one closed');
});

t.test('max.connections.per.ip and its overrides', async (t) => {
  const b = await setup(t, { 'max.connections.per.ip': 3, 'max.connections.per.ip.overrides': '127.0.0.2:1, 127.0.0.4:0' });
  const peers: Peer[] = [];
  t.teardown(() => peers.forEach((p) => p.close()));
  const open = async (from: string): Promise<Peer> => {
    const p = await Peer.connect(b.port, from);
    peers.push(p);
    return p;
  };
  const first = [await open('127.0.0.1'), await open('127.0.0.1'), await open('127.0.0.1')];
  for (const p of first) t.equal(await p.ask(), 'answered');
  const fourth = await open('127.0.0.1');
  t.ok(await fourth.closedWithin(2000), 'the 4th connection from 127.0.0.1 is closed');
  t.equal(await fourth.ask(200), 'closed');

  const overridden = await open('127.0.0.2');
  t.equal(await overridden.ask(), 'answered', '127.0.0.2 (override 1): the first is accepted');
  const overriddenSecond = await open('127.0.0.2');
  t.ok(await overriddenSecond.closedWithin(2000), '127.0.0.2: the second is closed');
  const barred = await open('127.0.0.4');
  t.ok(await barred.closedWithin(2000), '127.0.0.4 (override 0): closed');

  const other = await open('127.0.0.3');
  t.equal(await other.ask(), 'answered', 'another address has its own count');
  for (const p of first) t.equal(await p.ask(), 'answered', 'the first three are still answered');
});

t.test('settings: defaults, Kafka\'s rule for max.connections.per.ip=0, override syntax', async (t) => {
  const d = tempDir();
  t.teardown(() => d.cleanup());
  const ok = new Broker({ overrides: { 'log.dirs': d.dir } });
  t.equal(ok.config.getNumber('max.connections'), 10000);
  t.equal(ok.config.getNumber('max.connections.per.ip'), 2147483647);
  t.equal(ok.config.getNumber('queued.max.request.bytes'), 104857600);
  t.throws(() => new Broker({ overrides: { 'log.dirs': d.dir, 'max.connections.per.ip': '0' } }), /max.connections.per.ip.overrides/);
  t.doesNotThrow(() => new Broker({ overrides: { 'log.dirs': d.dir, 'max.connections.per.ip': '0', 'max.connections.per.ip.overrides': 'localhost:5' } }));
  t.throws(() => new Broker({ overrides: { 'log.dirs': d.dir, 'max.connections.per.ip.overrides': 'nocount' } }), /host:count/);
  t.throws(() => new Broker({ overrides: { 'log.dirs': d.dir, 'max.connections': '-1' } }), /max.connections/);
});
