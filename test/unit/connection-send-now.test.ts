// network room tests: the native send path of a connection (sendNow) with a scripted SendFile.
// Where the native call stops short without a full socket, the slice goes to the pool and the
// page-cache nudge (readNow) is not used; and once the socket is gone the native call is never
// made again with the old fd number (it may already name another connection or a file).
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { Connection, type RequestOutcome } from '../../src/network/connection.js';
import type { FileSlice, SendFile } from '../../src/storage/engine.js';

const logger = pino({ level: 'silent' });

interface Pair {
  client: Socket;
  server: Socket;
  conn: Connection;
  close: () => void;
}

async function pair(process: () => Promise<RequestOutcome>, sendFile: SendFile): Promise<Pair> {
  const listener = createServer();
  let conn: Connection | undefined;
  let server: Socket | undefined;
  const accepted = new Promise<void>((resolve) => {
    listener.once('connection', (socket: Socket) => {
      server = socket;
      conn = new Connection(1, socket, process, { maxFrameBytes: 1 << 20, maxInflightBytes: 1 << 20, maxInflightRequests: 100, idleTimeoutMs: 60_000, sendFile }, logger, () => undefined);
      resolve();
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const client = connect((listener.address() as { port: number }).port, '127.0.0.1');
  client.on('error', () => undefined);
  await Promise.all([accepted, new Promise<void>((resolve) => client.once('connect', resolve))]);
  return {
    client, server: server!, conn: conn!, close: () => {
      client.destroy();
      conn!.destroy();
      listener.close();
    },
  };
}

/** A request frame (its content does not matter to the scripted processor). */
function request(): Buffer {
  const f = Buffer.alloc(8);
  f.writeInt32BE(4, 0);
  return f;
}

t.test('sendNow', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'spool-send-now-'));
  const path = join(dir, 'data.log');
  const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  writeFileSync(path, data);
  const fd = openSync(path, 'r');
  t.teardown(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });

  await t.test('a slice the native call left with room in the socket goes to the pool, not readNow', async (t) => {
    const calls: { now: number[]; pool: number; readNow: number } = { now: [], pool: 0, readNow: 0 };
    // The scripted native call: sends the bytes before the first slice, stops at file data ("not
    // known to be cached"), and sends everything when there is no file data before the end.
    const send = ((socketFd: number, slice: FileSlice): Promise<number> => {
      calls.pool++;
      writeSync(socketFd, readFileSync(path).subarray(slice.position, slice.position + slice.length));
      return Promise.resolve(slice.length);
    }) as SendFile;
    send.now = (socketFd: number, buffers: Buffer[], slices: number[]): number => {
      calls.now.push(socketFd);
      // Stops at file data (slices non-empty) "with room in the socket"; otherwise all sent.
      t.ok(slices.length === 0 || slices[0] === fd, 'the slice is passed on');
      writeSync(socketFd, buffers[0]);
      return buffers[0].length;
    };
    send.nowStoppedFull = () => false;
    send.readNow = () => {
      calls.readNow++;
      return null;
    };
    let released = 0;
    const head = Buffer.from('head');
    const tail = Buffer.from('tail');
    const slice: FileSlice = { fd, position: 100, length: 3000, release: () => released++ };
    const p = await pair(() => Promise.resolve({ kind: 'response', response: { chunks: [head, slice, tail], size: 3008 } }), send);
    t.teardown(p.close);
    const got: Buffer[] = [];
    let bytes = 0;
    const all = new Promise<void>((resolve) => {
      p.client.on('data', (chunk: Buffer) => {
        got.push(chunk);
        bytes += chunk.length;
        if (bytes >= 4 + 3008) resolve();
      });
    });
    p.client.write(request());
    await all;
    const out = Buffer.concat(got);
    t.equal(out.readInt32BE(0), 3008, 'size prefix');
    t.ok(out.subarray(4).equals(Buffer.concat([head, data.subarray(100, 3100), tail])), 'bytes, slice, bytes in order');
    t.equal(calls.pool, 1, 'the slice went to the pool');
    t.equal(calls.readNow, 0, 'no page-cache nudge without a full socket');
    t.equal(calls.now.length, 2, 'the native call went on after the slice');
    t.equal(released, 1, 'the slice was released');
  });

  await t.test('once the socket is gone, the native call is not made again with its fd', async (t) => {
    const nowFds: number[] = [];
    const ref: { server?: Socket } = {};
    const send = ((_socketFd: number, slice: FileSlice): Promise<number> => {
      // The client reset while the pool sent the slice (on its own dup of the fd: it "succeeds").
      ref.server?.destroy();
      return Promise.resolve(slice.length);
    }) as SendFile;
    send.now = (socketFd: number, buffers: Buffer[]): number => {
      nowFds.push(socketFd);
      writeSync(socketFd, buffers[0]);
      return buffers[0].length;
    };
    send.nowStoppedFull = () => false;
    let released = 0;
    const slice: FileSlice = { fd, position: 0, length: 2000, release: () => released++ };
    const p = await pair(() => Promise.resolve({ kind: 'response', response: { chunks: [Buffer.from('head'), slice, Buffer.from('tail')], size: 2008 } }), send);
    t.teardown(p.close);
    ref.server = p.server;
    const serverClosed = new Promise<void>((resolve) => p.server.once('close', () => resolve()));
    p.client.write(request());
    await serverClosed;
    // Let the connection's response path settle.
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.equal(nowFds.length, 1, 'the native call ran once, before the socket went away');
    t.equal(released, 1, 'the slice was released');
  });
});
