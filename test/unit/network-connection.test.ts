// network room tests: a connection's response path — pipelined requests finishing out of order are
// answered strictly in request order, the responses ready together go out in one socket write, a
// client that stops reading stops the connection reading (bounded in flight, nothing lost), drain()
// waits for responses still in the socket's buffer, file-slice and buffer responses mix in order, a
// failed request or a malformed response closes the connection after the earlier responses, and
// responses of a closed connection give their file slices back.
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t, { type Test } from 'tap';
import { Connection, type ConnectionOptions, type RequestOutcome } from '../../src/network/connection.js';
import type { FileSlice } from '../../src/storage/engine.js';

const logger = pino({ level: 'silent' });

interface Harness {
  server: Server;
  client: Socket;
  conn: Connection;
  /** The server side of the connection. */
  socket: Socket;
  /** Server-side socket.write calls. */
  writes: () => number;
  /** Frames the connection handed to the processor, in order. */
  requests: Buffer[];
  /** Resolves once the server side of the connection closed. */
  serverClosed: Promise<void>;
}

/** A server with one Connection whose processor is `process`, and a client connected to it. */
async function harness(process: (frame: Buffer) => Promise<RequestOutcome>, options: Partial<ConnectionOptions> = {}): Promise<Harness> {
  const requests: Buffer[] = [];
  let writes = 0;
  let conn: Connection | undefined;
  let serverSocket: Socket | undefined;
  let serverClosed: Promise<void> | undefined;
  const server = createServer();
  const accepted = new Promise<void>((resolve) => {
    server.once('connection', (socket: Socket) => {
      serverSocket = socket;
      serverClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
      socket.write = (...args: unknown[]): boolean => {
        writes++;
        return write(...args);
      };
      const opts: ConnectionOptions = { maxFrameBytes: 1 << 20, maxInflightBytes: 1 << 20, maxInflightRequests: 1000, idleTimeoutMs: 60_000, ...options };
      conn = new Connection(1, socket, (frame) => {
        requests.push(frame);
        return process(frame);
      }, opts, logger, () => undefined);
      resolve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const client = connect(port, '127.0.0.1');
  await Promise.all([accepted, new Promise<void>((resolve) => client.once('connect', resolve))]);
  return { server, client, conn: conn!, socket: serverSocket!, writes: () => writes, requests, serverClosed: serverClosed! };
}

function frame(payload: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length, 0);
  return Buffer.concat([size, payload]);
}

function indexFrame(i: number, size = 4): Buffer {
  const p = Buffer.alloc(size);
  p.writeInt32BE(i, 0);
  return frame(p);
}

function response(payload: Buffer): RequestOutcome {
  return { kind: 'response', response: { chunks: [payload], size: payload.length } };
}

/**
 * Reads size-prefixed frames from the client socket; keeps each frame's first 64 bytes (a copy)
 * and its size, so large responses are not retained.
 */
function frameReader(client: Socket): { frames: Buffer[]; sizes: number[]; until: (n: number) => Promise<void>; ended: Promise<void> } {
  const frames: Buffer[] = [];
  const sizes: number[] = [];
  let chunks: Buffer[] = [];
  let have = 0;
  let waiter: (() => void) | null = null;
  let want = 0;
  client.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    have += chunk.length;
    for (;;) {
      if (have < 4) break;
      const head = chunks[0].length >= 4 ? chunks[0] : Buffer.concat(chunks);
      const size = head.readInt32BE(0);
      if (have < 4 + size) break;
      const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      frames.push(Buffer.from(all.subarray(4, 4 + Math.min(size, 64))));
      sizes.push(size);
      const rest = all.subarray(4 + size);
      chunks = rest.length > 0 ? [rest] : [];
      have = rest.length;
    }
    if (waiter !== null && frames.length >= want) waiter();
  });
  const ended = new Promise<void>((resolve) => client.once('end', resolve));
  return {
    frames,
    sizes,
    ended,
    until: (n) => {
      if (frames.length >= n) return Promise.resolve();
      want = n;
      return new Promise<void>((resolve) => {
        waiter = resolve;
      });
    },
  };
}

async function waitFor(what: () => boolean): Promise<void> {
  // Bounded: 10 s of 5 ms polls.
  for (let i = 0; i < 2000 && !what(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!what()) throw new Error('condition not reached');
}

function teardown(t: Test, h: Harness): void {
  t.teardown(async () => {
    h.client.destroy();
    h.conn.destroy();
    await new Promise<void>((resolve) => h.server.close(() => resolve()));
  });
}

t.test('pipelined requests finishing in reverse order are answered in request order, those ready together in one write', async (t) => {
  const gates: Array<(o: RequestOutcome) => void> = [];
  const h = await harness(() => new Promise<RequestOutcome>((resolve) => gates.push(resolve)));
  teardown(t, h);
  const reader = frameReader(h.client);
  const n = 50;
  h.client.write(Buffer.concat(Array.from({ length: n }, (_, i) => indexFrame(i))));
  await waitFor(() => gates.length === n);
  const before = h.writes();
  // All finish in one turn, last first: one write carries the 50 responses, in request order.
  for (let i = n - 1; i >= 0; i--) gates[i](response(Buffer.from(`response ${i}`)));
  await reader.until(n);
  t.same(reader.frames.map((f) => f.toString()), Array.from({ length: n }, (_, i) => `response ${i}`));
  t.equal(h.writes() - before, 1, 'the 50 responses went out in one socket write');

  // A later request finishing first waits for the earlier one, then both go out together.
  h.client.write(Buffer.concat([indexFrame(n), indexFrame(n + 1), indexFrame(n + 2)]));
  await waitFor(() => gates.length === n + 3);
  const mid = h.writes();
  gates[n + 1](response(Buffer.from('second')));
  await new Promise((r) => setTimeout(r, 20));
  t.equal(reader.frames.length, n, 'nothing is written before the earlier response');
  t.equal(h.writes(), mid);
  gates[n](response(Buffer.from('first')));
  await reader.until(n + 2);
  t.same(reader.frames.slice(n).map((f) => f.toString()), ['first', 'second']);
  gates[n + 2]({ kind: 'noResponse' });
  h.client.write(indexFrame(n + 3));
  await waitFor(() => gates.length === n + 4);
  gates[n + 3](response(Buffer.from('after no response')));
  await reader.until(n + 3);
  t.equal(reader.frames[n + 2].toString(), 'after no response', 'a request without a response is skipped in order');
});

/** A response of 4 + shared.length bytes: its index, then `shared` (by reference: no allocation). */
function sharedResponse(i: number, shared: Buffer): RequestOutcome {
  const head = Buffer.alloc(4);
  head.writeInt32BE(i, 0);
  return { kind: 'response', response: { chunks: [head, shared], size: 4 + shared.length } };
}

/** Waits (bounded: 50 rounds of 100 ms) until `value` stays the same for one round. */
async function settle(value: () => number): Promise<void> {
  let last = -1;
  for (let i = 0; i < 50 && value() !== last; i++) {
    last = value();
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('a client that stops reading stops the connection reading; every response arrives in order once it reads', async (t) => {
  // 80 responses of 256 KiB (20 MiB): more than the socket buffers of both ends hold while the
  // client reads nothing (its receive window does not grow; tcp_wmem allows up to 4 MiB here).
  const shared = Buffer.alloc(256 * 1024, 7);
  let processed = 0;
  // One request in flight: every request read pauses reading until its response was written.
  const h = await harness(
    (f) => {
      processed++;
      return Promise.resolve(sharedResponse(f.readInt32BE(0), shared));
    },
    { maxInflightRequests: 1 },
  );
  teardown(t, h);
  const n = 80;
  h.client.pause();
  // 64 KiB requests: each arrives in reads of its own, so the connection can stop reading between them.
  h.client.write(Buffer.concat(Array.from({ length: n }, (_, i) => indexFrame(i, 64 * 1024))));
  await waitFor(() => processed > 1);
  await settle(() => processed);
  t.ok(processed < n / 2, `processing stopped while the client did not read (${processed} of ${n})`);
  // Stuck on a full socket: the last response written is in the socket's buffer, and no request
  // was read meanwhile (reading resumes on 'drain', not as soon as the queue emptied into the
  // socket): at most the queue bound plus one socket-buffer batch are held.
  t.ok(h.socket.writableLength > 0, 'responses wait in the socket buffer');
  t.equal(h.conn.inflight, 0, 'no request read while the socket buffer is full');
  const reader = frameReader(h.client);
  h.client.resume();
  await reader.until(n);
  t.equal(processed, n);
  t.same(reader.frames.map((f) => f.readInt32BE(0)), Array.from({ length: n }, (_, i) => i), 'in request order');
  t.ok(reader.sizes.every((size) => size === 4 + shared.length));
});

t.test('drain() resolves only once the responses in the socket buffer were handed to the kernel; a destroy right after loses none', async (t) => {
  // 40 MiB of responses, all in the socket's buffer at once (more than the kernel buffers of both
  // ends hold while the client reads nothing): the queue is empty, the socket still has them.
  const shared = Buffer.alloc(1024 * 1024, 3);
  let processed = 0;
  const h = await harness(
    (f) => {
      processed++;
      return Promise.resolve(sharedResponse(f.readInt32BE(0), shared));
    },
    { maxInflightRequests: 1000 },
  );
  teardown(t, h);
  const n = 40;
  h.client.pause();
  h.client.write(Buffer.concat(Array.from({ length: n }, (_, i) => indexFrame(i))));
  await waitFor(() => processed === n && h.conn.inflight === 0);
  await new Promise((r) => setTimeout(r, 100));
  t.ok(h.socket.writableLength > 0, `responses wait in the socket buffer (${h.socket.writableLength} bytes)`);
  let drained = false;
  const drain = h.conn.drain().then(() => {
    drained = true;
  });
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(drained, 'not drained while the client reads nothing');
  const reader = frameReader(h.client);
  h.client.resume();
  await drain;
  // What server.close does once drain() resolved.
  h.conn.destroy();
  await reader.ended;
  t.equal(reader.frames.length, n, 'every response arrived');
  t.same(reader.frames.map((f) => f.readInt32BE(0)), Array.from({ length: n }, (_, i) => i), 'in request order');
  t.ok(reader.sizes.every((size) => size === 4 + shared.length));
});

t.test('pipelined file-slice and buffer responses finishing in reverse order arrive in request order with their bytes', async (t) => {
  // No sendFile option: slices are read from the file (readSlice) and written through the stream.
  const dir = mkdtempSync(join(tmpdir(), 'spool-conn-'));
  const path = join(dir, 'segment');
  const content = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) & 0xff));
  writeFileSync(path, content);
  const fd = openSync(path, 'r');
  t.teardown(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  const gates: Array<(o: RequestOutcome) => void> = [];
  const h = await harness(() => new Promise<RequestOutcome>((resolve) => gates.push(resolve)));
  teardown(t, h);
  const reader = frameReader(h.client);
  const n = 12;
  h.client.write(Buffer.concat(Array.from({ length: n }, (_, i) => indexFrame(i))));
  await waitFor(() => gates.length === n);
  let released = 0;
  const expected: Buffer[] = [];
  const outcomes: RequestOutcome[] = [];
  for (let i = 0; i < n; i++) {
    const head = Buffer.from(`r${i}:`);
    if (i % 3 === 2) {
      outcomes.push(response(head));
      expected.push(head);
      continue;
    }
    // Some with two slices and a buffer between them.
    const a: FileSlice = { fd, position: i * 100, length: 40, release: () => released++ };
    const b: FileSlice = { fd, position: i * 100 + 50, length: 10, release: () => released++ };
    const mid = Buffer.from('|');
    const chunks = i % 3 === 0 ? [head, a, mid, b] : [head, a];
    const size = chunks.reduce((sum, c) => sum + c.length, 0);
    outcomes.push({ kind: 'response', response: { chunks, size } });
    const bytes = i % 3 === 0 ? [head, content.subarray(i * 100, i * 100 + 40), mid, content.subarray(i * 100 + 50, i * 100 + 60)] : [head, content.subarray(i * 100, i * 100 + 40)];
    expected.push(Buffer.concat(bytes));
  }
  // 4 responses with two slices, 4 with one.
  const slices = 12;
  for (let i = n - 1; i >= 0; i--) gates[i](outcomes[i]);
  await reader.until(n);
  t.same(reader.sizes, expected.map((e) => e.length), 'sizes in request order');
  for (let i = 0; i < n; i++) t.ok(reader.frames[i].equals(expected[i]), `response ${i} has its bytes`);
  await waitFor(() => released === slices);
  t.equal(released, slices, 'every slice released once');
});

t.test('a request whose processing fails: the responses before it arrive, then the connection closes', async (t) => {
  const h = await harness((f) => {
    const i = f.readInt32BE(0);
    if (i === 3) return Promise.reject(new Error('processor failed'));
    return Promise.resolve(response(Buffer.from(`response ${i}`)));
  });
  teardown(t, h);
  const reader = frameReader(h.client);
  h.client.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => h.client.once('close', () => resolve()));
  h.client.write(Buffer.concat(Array.from({ length: 6 }, (_, i) => indexFrame(i))));
  await closed;
  await h.serverClosed;
  t.same(reader.frames.map((f) => f.toString()), ['response 0', 'response 1', 'response 2'], 'the responses before it, nothing after');
});

t.test('a response whose chunks do not add up to its size closes the connection only; nothing of it is sent', async (t) => {
  const h = await harness(async (f) => {
    const i = f.readInt32BE(0);
    if (i !== 2) return response(Buffer.from(`response ${i}`));
    // Finishes after the others (a flush of its own), with 3 bytes for a size of 10.
    await new Promise((r) => setTimeout(r, 20));
    return { kind: 'response', response: { chunks: [Buffer.from('abc')], size: 10 } };
  });
  teardown(t, h);
  const reader = frameReader(h.client);
  h.client.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => h.client.once('close', () => resolve()));
  h.client.write(Buffer.concat(Array.from({ length: 4 }, (_, i) => indexFrame(i))));
  await closed;
  await h.serverClosed;
  t.same(reader.frames.map((f) => f.toString()), ['response 0', 'response 1'], 'the responses before it, nothing after');
});

t.test('a connection closed with responses pending gives their file slices back', async (t) => {
  const gates: Array<(o: RequestOutcome) => void> = [];
  const h = await harness(() => new Promise<RequestOutcome>((resolve) => gates.push(resolve)));
  teardown(t, h);
  h.client.write(Buffer.concat([indexFrame(0), indexFrame(1)]));
  await waitFor(() => gates.length === 2);
  let released = 0;
  const slice: FileSlice = { fd: -1, position: 0, length: 10, release: () => released++ };
  h.client.destroy();
  await h.serverClosed;
  gates[0](response(Buffer.from('plain')));
  gates[1]({ kind: 'response', response: { chunks: [Buffer.from('head'), slice], size: 14 } });
  await waitFor(() => released === 1);
  t.equal(released, 1, 'the unwritten response released its slice once');
});

t.test('responses before a closing outcome reach the client before the close, even when the socket buffered them', async (t) => {
  const big = 1024 * 1024;
  const h = await harness((f) => {
    const i = f.readInt32BE(0);
    if (i === 48) return Promise.resolve({ kind: 'close', reason: 'test close' });
    const out = Buffer.alloc(big, 2);
    out.writeInt32BE(i, 0);
    return Promise.resolve(response(out));
  });
  teardown(t, h);
  h.client.pause();
  h.client.write(Buffer.concat(Array.from({ length: 49 }, (_, i) => indexFrame(i))));
  // 48 MiB of responses (more than the socket buffers of both ends hold), then the close.
  await waitFor(() => h.requests.length === 49);
  await new Promise((r) => setTimeout(r, 100));
  const reader = frameReader(h.client);
  const closed = new Promise<void>((resolve) => h.client.once('close', () => resolve()));
  h.client.on('error', () => undefined);
  h.client.resume();
  await closed;
  t.same(reader.frames.map((f) => f.readInt32BE(0)), Array.from({ length: 48 }, (_, i) => i), 'all 48 responses before the close');
});
