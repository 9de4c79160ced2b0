// fault test (issue 12): a network partition. Three brokers and etcd, each in its own Linux network
// namespace on one bridge (test/helpers/netns.ts), a topic with replication factor 3 and
// min.insync.replicas=2. The leader of partition 0 is cut off from etcd and from its two followers
// (blackhole routes, both ways); the test process holds clients on both sides:
//  - a "minority" client (its own source address, reaching only the old leader) producing acks=all
//    to partition 0 and probing the old leader with raw Fetches: the old leader must acknowledge
//    nothing while cut off, and its high watermark must not move;
//  - a "majority" client (reaching etcd's side only) producing acks=all to every partition: the
//    old leader's etcd session expires, the controller elects a follower, and writes go on there.
// After healing, the old leader must rejoin as a follower (back in every ISR), truncating the
// unacknowledged tail it appended while cut off. Everything is read back and the history checked
// (test/helpers/history.ts): no acknowledged record lost, no offset with two values, nothing read
// that was never written (the probes' reads included), every acknowledgement at its offset; then
// the brokers are stopped and the replicas' log files of every partition compared record by record.
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { ISocketFactory } from 'kafkajs';
import t from 'tap';
import { brokerSpawnSpec, etcdEndpoint, etcdSpawnSpec, spoolMainScript, waitForEtcd, type Engine } from '../../src/cli/cluster.js';
import { ManagedProcess, waitForPort } from '../../src/cli/process.js';
import { ApiKey, decodeResponse, encodeRequest } from '../../src/protocol/index.js';
import { decodeRecordBatches } from '../../src/protocol/record-batch.js';
import { tempDir } from '../helpers/broker.js';
import { etcdBinary } from '../helpers/cluster.js';
import { checkHistory, type ReadRecord, type SendAttempt } from '../helpers/history.js';
import { NetLab, netnsUnavailableReason, type NetHost } from '../helpers/netns.js';
import { requireToolchain } from '../interop/common.js';

const { Kafka, logLevel } = kafkajs;
type KafkaClient = InstanceType<typeof Kafka>;

const TOPIC = 'partitioned';
const PARTITIONS = 3;
const PORT = 9092;
const SESSION_TIMEOUT_MS = 3000;
/** How long the partition lasts after the majority elected a new leader. */
const HOLD_AFTER_ELECTION_MS = Number(process.env.SPOOL_PARTITION_HOLD_MS ?? 6000);
/** The produce request's timeout: how long a leader waits for its ISR before REQUEST_TIMED_OUT. */
const PRODUCE_TIMEOUT_MS = 2000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Bounded by the deadline.
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // failing over: ask again
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/**
 * Sockets from `localAddress` (one side of the partition). With `idleMs`, a connection that saw no
 * traffic either way for that long is dropped: KafkaJS keeps a connection whose requests time out
 * (and keeps asking it for metadata), where the Java client would disconnect; producers need it to
 * leave a leader that went silent.
 */
function boundSockets(localAddress: string, idleMs?: number): ISocketFactory {
  return ({ host, port, onConnect }) => {
    const socket = connect({ host, port, localAddress }, onConnect);
    socket.setKeepAlive(true, 60_000);
    if (idleMs !== undefined) socket.setTimeout(idleMs, () => socket.destroy(new Error(`no traffic from ${host}:${port} for ${idleMs} ms`)));
    return socket;
  };
}

function kafkaClient(localAddress: string, brokers: string[], clientId: string, idleMs?: number): KafkaClient {
  return new Kafka({
    brokers,
    clientId,
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
    requestTimeout: 5000,
    connectionTimeout: 2000,
    socketFactory: boundSockets(localAddress, idleMs),
  });
}

interface PartitionInfo {
  partitionId: number;
  leader: number;
  isr: number[];
}

async function partitionsState(kafka: KafkaClient): Promise<PartitionInfo[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const md = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    return md.topics[0].partitions.map((p) => ({ partitionId: p.partitionId, leader: p.leader, isr: p.isr }));
  } finally {
    await admin.disconnect();
  }
}

/** One send attempt with when it started and ended (the history checker ignores the extra fields). */
interface TimedAttempt extends SendAttempt {
  startedAt: number;
  endedAt: number;
  error?: string;
}

/** acks=all producer loops, one per partition (a send stuck on one partition holds up no other). */
async function startLoad(kafka: KafkaClient, side: string, partitions: number[], retries: number) {
  const attempts: TimedAttempt[] = [];
  let stopped = false as boolean;
  let seq = 0;
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false, retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 } });
  await producer.connect();
  const loops = partitions.map(async (partition) => {
    // Bounded: stops when told, or after 20 000 batches.
    for (let batch = 0; !stopped && batch < 20_000; batch++) {
      const values = Array.from({ length: 10 }, () => `${side}-${seq++}`);
      const startedAt = Date.now();
      try {
        const res = await producer.send({ topic: TOPIC, acks: -1, timeout: PRODUCE_TIMEOUT_MS, messages: values.map((value) => ({ value, partition })) });
        const endedAt = Date.now();
        const base = Number(res[0].baseOffset);
        values.forEach((value, i) => attempts.push({ value, partition, producer: side, acked: true, offset: base + i, startedAt, endedAt }));
      } catch (err) {
        const endedAt = Date.now();
        const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        for (const value of values) attempts.push({ value, partition, producer: side, acked: false, startedAt, endedAt, error });
        await sleep(100);
      }
    }
  });
  return {
    attempts,
    acked: (filter: (a: TimedAttempt) => boolean = () => true) => attempts.filter((a) => a.acked && filter(a)).length,
    stop(): void {
      stopped = true;
    },
    async stopped(): Promise<TimedAttempt[]> {
      stopped = true;
      await Promise.all(loops);
      await producer.disconnect();
      return attempts;
    },
  };
}

/** One Fetch (v12, as a consumer) from `host` bound to `localAddress`: the records up to the high watermark. */
async function probeFetch(host: string, localAddress: string, partition: number, fetchOffset: number, timeoutMs = 3000) {
  const socket: Socket = connect({ host, port: PORT, localAddress });
  try {
    const frame = await new Promise<Buffer>((resolve, reject) => {
      let buffered = Buffer.alloc(0);
      const timer = setTimeout(() => reject(new Error(`fetch from ${host} timed out`)), timeoutMs);
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
          clearTimeout(timer);
          resolve(buffered.subarray(4, 4 + buffered.readInt32BE(0)));
        }
      });
      socket.on('connect', () => {
        socket.write(
          encodeRequest(ApiKey.Fetch, 12, 1, 'partition-probe', {
            replicaId: -1,
            maxWaitMs: 0,
            minBytes: 1,
            maxBytes: 8 * 1024 * 1024,
            isolationLevel: 0,
            sessionId: 0,
            sessionEpoch: -1,
            topics: [{ topic: TOPIC, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 8 * 1024 * 1024 }] }],
            forgottenTopicsData: [],
            rackId: '',
          }),
        );
      });
    });
    const res = decodeResponse(ApiKey.Fetch, 12, frame);
    const p = res.responses[0].partitions[0];
    const records: Array<{ offset: number; value: string }> = [];
    if (p.records !== null && p.records.length > 0) {
      for (const batch of decodeRecordBatches(p.records)) {
        for (const r of batch.records) records.push({ offset: r.offset, value: r.value?.toString() ?? '' });
      }
    }
    return { errorCode: p.errorCode, highWatermark: p.highWatermark, records };
  } finally {
    socket.destroy();
  }
}

/** Reads every partition from the beginning to its end offset with a fresh consumer group. */
async function readAll(kafka: KafkaClient): Promise<ReadRecord[]> {
  const reads: ReadRecord[] = [];
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(TOPIC);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `partition-reader-${Date.now()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  const target = new Map(ends.map((e) => [e.partition, Number(e.high)]));
  const reached = new Map<number, number>();
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      reads.push({ consumer: 'reader', partition, offset: Number(message.offset), value: message.value?.toString() ?? '' });
      reached.set(partition, Number(message.offset) + 1);
    },
  });
  await waitFor('the reader reaches every end offset', () => Promise.resolve([...target].every(([p, end]) => (reached.get(p) ?? 0) >= end)), 60_000);
  await consumer.disconnect();
  return reads;
}

/** offset → value of every record in a replica's log files of `partition` (read after the broker stopped). */
function replicaRecords(logDir: string, partition: number): Map<number, string> {
  const dir = join(logDir, `${TOPIC}-${partition}`);
  const out = new Map<number, string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.log')).sort()) {
    for (const batch of decodeRecordBatches(readFileSync(join(dir, file)))) {
      for (const r of batch.records) out.set(r.offset, r.value?.toString() ?? '');
    }
  }
  return out;
}

t.test('a leader cut off from etcd and its followers acknowledges nothing; nothing acknowledged is lost after healing', async (t) => {
  if (!requireToolchain(t, etcdBinary() !== null, 'etcd is not installed (apt-get install etcd-server, or set SPOOL_ETCD_BIN)')) return;
  const netReason = netnsUnavailableReason();
  if (!requireToolchain(t, netReason === null, netReason ?? '')) return;
  const testStart = Date.now();

  // ---- the network and the cluster ---------------------------------------------------------
  const d = tempDir('spool-netpart-');
  const lab = NetLab.create(2);
  const majorityAddr = lab.client(1);
  const minorityAddr = lab.client(2);
  const processes: ManagedProcess[] = [];
  const stops: Array<() => void> = [];
  t.teardown(async () => {
    for (const stop of stops) stop();
    await Promise.all(processes.map((p) => p.kill()));
    lab.destroy();
    if (t.passing()) d.cleanup();
    else t.comment(`kept the brokers' data and logs in ${d.dir}`);
  });

  const etcdHost = lab.addHost('etcd');
  const etcdProc = new ManagedProcess(
    'etcd',
    lab.wrap(etcdHost, etcdSpawnSpec({ dataDir: join(d.dir, 'etcd'), logFile: join(d.dir, 'etcd.log'), clientPort: 2379, peerPort: 2380, host: etcdHost.address })),
  );
  processes.push(etcdProc);
  etcdProc.start();
  const endpoint = etcdEndpoint({ clientPort: 2379, host: etcdHost.address });
  await waitForEtcd(endpoint, { process: etcdProc, timeoutMs: 30_000 });

  const engine = (process.env.SPOOL_TEST_ENGINE as Engine | undefined) ?? 'auto';
  const brokerHosts = new Map<number, NetHost>();
  const brokerProcs = new Map<number, ManagedProcess>();
  for (const nodeId of [1, 2, 3]) {
    const host = lab.addHost(`b${nodeId}`);
    brokerHosts.set(nodeId, host);
    const proc = new ManagedProcess(
      `broker ${nodeId}`,
      lab.wrap(
        host,
        brokerSpawnSpec({
          nodeId,
          port: PORT,
          host: host.address,
          logDir: join(d.dir, `broker-${nodeId}`),
          logFile: join(d.dir, `broker-${nodeId}.log`),
          etcdEndpoints: [endpoint],
          engine,
          mainScript: spoolMainScript(),
          env: { ...process.env, SPOOL_LOG_LEVEL: process.env.SPOOL_LOG_LEVEL ?? 'info' },
          overrides: {
            'broker.session.timeout.ms': SESSION_TIMEOUT_MS,
            'default.replication.factor': 3,
            'min.insync.replicas': 2,
            'offsets.topic.num.partitions': 5,
            'replica.lag.time.max.ms': 4000,
            'replica.fetch.wait.max.ms': 200,
            'replica.fetch.backoff.ms': 200,
            'replica.socket.timeout.ms': 3000,
            // readAll joins a fresh consumer group: no initial rebalance delay (Kafka's default: 3 s).
            'group.initial.rebalance.delay.ms': 0,
          },
        }),
      ),
    );
    processes.push(proc);
    brokerProcs.set(nodeId, proc);
    proc.start();
  }
  await Promise.all([...brokerProcs].map(([id, p]) => waitForPort(PORT, { host: brokerHosts.get(id)!.address, process: p, timeoutMs: 60_000 })));
  const address = (nodeId: number): string => `${brokerHosts.get(nodeId)!.address}:${PORT}`;
  const allBrokers = [1, 2, 3].map(address);
  const majorityAdmin = (brokers: string[]) => kafkaClient(majorityAddr.client, brokers, 'partition-test-admin');

  {
    const admin = majorityAdmin(allBrokers).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: true });
    await admin.disconnect();
  }
  await waitFor('three in-sync replicas per partition', async () => (await partitionsState(majorityAdmin(allBrokers))).every((p) => p.isr.length === 3 && p.leader > 0), 30_000);
  const before = await partitionsState(majorityAdmin(allBrokers));
  const oldLeader = before.find((p) => p.partitionId === 0)!.leader;
  const followers = [1, 2, 3].filter((id) => id !== oldLeader);
  t.comment(`partition 0: leader ${oldLeader}, followers ${followers.join(', ')}; leaders ${before.map((p) => `${p.partitionId}→${p.leader}`).join(' ')}`);

  // ---- load on both sides ----------------------------------------------------------------------
  const majority = await startLoad(kafkaClient(majorityAddr.client, followers.map(address), 'majority', 4000), 'majority', [0, 1, 2], 3);
  stops.push(() => majority.stop());
  const minority = await startLoad(kafkaClient(minorityAddr.client, [address(oldLeader)], 'minority', 4000), 'minority', [0], 0);
  stops.push(() => minority.stop());
  await waitFor('both clients acknowledged before the partition', () => Promise.resolve(majority.acked() > 0 && minority.acked() > 0), 20_000);
  await sleep(1000);

  // ---- the partition -------------------------------------------------------------------------
  const cutStart = Date.now();
  lab.cut([brokerHosts.get(oldLeader)!, minorityAddr], [etcdHost, ...followers.map((id) => brokerHosts.get(id)!), majorityAddr]);
  // Writes sent while the routes went in may still be replicated and acknowledged: the partition
  // is complete only now.
  const cutAt = Date.now();
  t.comment(`cut broker ${oldLeader} and the minority client off from etcd, brokers ${followers.join(', ')} and the majority client (${cutAt - cutStart} ms of ip commands)`);

  // The minority side's view of partition 0, through the old leader, while cut off.
  const probeReads: ReadRecord[] = [];
  const probeHws: number[] = [];
  let probing = true as boolean;
  let probeErrors = 0;
  stops.push(() => {
    probing = false;
  });
  const prober = (async () => {
    await sleep(200); // packets already on their way at the cut are delivered first
    // Bounded by `probing` (cleared at heal) and 200 probes.
    for (let i = 0; probing && i < 200; i++) {
      try {
        const hwBefore = probeHws.at(-1) ?? 0;
        const res = await probeFetch(brokerHosts.get(oldLeader)!.address, minorityAddr.client, 0, Math.max(0, hwBefore - 50));
        if (res.errorCode === 0) {
          probeHws.push(res.highWatermark);
          res.records.forEach((r, j) => probeReads.push({ consumer: `probe-${i}`, partition: 0, offset: r.offset, value: r.value, afterSeek: j === 0 }));
        } else {
          probeErrors++;
        }
      } catch {
        probeErrors++;
      }
      await sleep(500);
    }
  })();

  const majorityFor = (): KafkaClient => majorityAdmin(followers.map(address));
  await waitFor(
    'the majority to elect a new leader of partition 0',
    async () => {
      const p0 = (await partitionsState(majorityFor())).find((p) => p.partitionId === 0)!;
      return p0.leader > 0 && p0.leader !== oldLeader;
    },
    30_000,
  );
  const electedAt = Date.now();
  const newLeader = (await partitionsState(majorityFor())).find((p) => p.partitionId === 0)!.leader;
  t.comment(`partition 0: broker ${newLeader} elected ${electedAt - cutAt} ms after the cut (session timeout ${SESSION_TIMEOUT_MS} ms)`);
  await waitFor('acknowledged writes to partition 0 at the new leader', () => Promise.resolve(majority.acked((a) => a.partition === 0 && a.startedAt >= electedAt) >= 50), 30_000);
  t.pass(`the majority client writes to partition 0 through broker ${newLeader}`);
  await sleep(Math.max(0, electedAt + HOLD_AFTER_ELECTION_MS - Date.now()));

  // ---- healing -------------------------------------------------------------------------------
  const healAt = Date.now();
  probing = false;
  await prober;
  lab.heal();
  t.comment(`healed after ${healAt - cutAt} ms`);
  await waitFor(
    `broker ${oldLeader} back in every ISR, as a follower of partition 0`,
    async () => {
      const state = await partitionsState(majorityAdmin(allBrokers));
      return state.every((p) => p.isr.length === 3 && p.leader > 0) && state.find((p) => p.partitionId === 0)!.leader !== oldLeader;
    },
    60_000,
  );
  const rejoinedAt = Date.now();
  t.comment(`broker ${oldLeader} rejoined every ISR ${rejoinedAt - healAt} ms after healing`);
  const ackedAtRejoin = majority.acked();
  await sleep(1500);
  t.ok(majority.acked() > ackedAtRejoin, 'writes go on after the old leader rejoined');

  const majorityAttempts = await majority.stopped();
  const minorityAttempts = await minority.stopped();
  await sleep(1000); // the followers fetch the last writes

  // ---- what the minority side saw ------------------------------------------------------------
  const duringCut = (a: TimedAttempt): boolean => a.startedAt >= cutAt && a.startedAt < healAt;
  const minorityDuring = minorityAttempts.filter(duringCut);
  const minorityAckedDuring = minorityDuring.filter((a) => a.acked && a.endedAt < healAt);
  const minorityErrors = new Map<string, number>();
  for (const a of minorityDuring) if (!a.acked) minorityErrors.set(a.error ?? '?', (minorityErrors.get(a.error ?? '?') ?? 0) + 1);
  t.comment(`minority: ${minorityDuring.length} records sent to broker ${oldLeader} while it was cut off, ${minorityAckedDuring.length} acknowledged; errors: ${[...minorityErrors].map(([e, n]) => `${n}× ${e.slice(0, 120)}`).join('; ')}`);
  t.ok(minorityDuring.length > 0, 'the minority client kept writing to the old leader while it was cut off');
  for (const a of minorityAckedDuring.slice(0, 5)) t.comment(`acknowledged while cut off: ${a.value} at ${a.partition}@${String(a.offset)}, sent ${a.startedAt - cutAt} ms after the cut, answered after ${a.endedAt - a.startedAt} ms`);
  t.equal(minorityAckedDuring.length, 0, 'the old leader acknowledged no acks=all write while cut off');
  const majorityP0BeforeElection = majorityAttempts.filter((a) => a.acked && a.partition === 0 && a.startedAt >= cutAt && a.endedAt < electedAt - 500).length;
  t.comment(`majority: ${majorityAttempts.filter(duringCut).filter((a) => a.acked).length} records acknowledged during the partition (${majorityP0BeforeElection} on partition 0 before the election)`);
  t.comment(`probes of the old leader while cut off: ${probeHws.length} answered (${probeErrors} failed), ${probeReads.length} records read, high watermarks ${[...new Set(probeHws)].join(', ')}`);
  t.ok(probeHws.length > 0, 'the old leader answered fetches while cut off');
  t.equal(new Set(probeHws).size, 1, 'the old leader\'s high watermark did not move while cut off');

  // ---- history ---------------------------------------------------------------------------------
  const finalReads = await readAll(majorityAdmin(allBrokers));
  const sends: SendAttempt[] = [...majorityAttempts, ...minorityAttempts];
  const report = checkHistory(sends, [...finalReads, ...probeReads], { idempotent: false });
  t.comment(`history: ${report.totals.acknowledged} acknowledged of ${report.totals.sent} sent, ${report.totals.read} read (${finalReads.length} read back, ${probeReads.length} by the probes); ${report.summary()}`);
  t.ok(report.totals.acknowledged > 0, 'records were acknowledged');
  t.equal(report.lost.count, 0, 'no acknowledged record lost');
  t.equal(report.offsetConflicts.count, 0, 'no offset read with two values');
  t.equal(report.phantomNeverSent.count, 0, 'nothing read that was never sent');
  t.equal(report.ackOffsetMismatch.count, 0, 'every acknowledged record is at its acknowledged offset');
  t.equal(report.violations, 0, report.violations === 0 ? 'no violations' : report.details());

  // ---- the replicas' logs ----------------------------------------------------------------------
  const oldLeaderLog = readFileSync(join(d.dir, `broker-${oldLeader}.log`), 'utf8');
  const truncations = oldLeaderLog.split('\n').filter((l) => l.includes('follower truncating a divergent tail') && l.includes(`"topic":"${TOPIC}"`));
  t.comment(`broker ${oldLeader} truncated ${truncations.length} divergent tail(s): ${truncations.map((l) => /"from":\d+,"to":\d+/.exec(l)?.[0] ?? '?').join(' ')}`);
  const refused = [1, 2, 3].map((id) => readFileSync(join(d.dir, `broker-${id}.log`), 'utf8').split('\n').filter((l) => l.includes('ISR change refused')).length);
  t.comment(`ISR changes refused by the store (broker 1/2/3): ${refused.join('/')}`);
  await Promise.all([...brokerProcs.values()].map((p) => p.stop(15_000)));
  let divergent = 0;
  const lengths: string[] = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const replicas = [1, 2, 3].map((id) => replicaRecords(join(d.dir, `broker-${id}`), partition));
    lengths.push(`${partition}: ${replicas.map((r) => r.size).join('/')}`);
    const [first, ...rest] = replicas;
    for (const other of rest) {
      for (const [offset, value] of other) {
        const expected = first.get(offset);
        if (expected !== undefined && expected !== value) {
          divergent++;
          if (divergent <= 5) t.comment(`partition ${partition} offset ${offset}: ${expected} on one replica, ${value} on another`);
        }
      }
    }
    t.equal(new Set(replicas.map((r) => r.size)).size, 1, `partition ${partition}: every replica holds the same number of records`);
    if (partition === 0) {
      // The old leader appended these (then timed out waiting for its ISR); it must have cut them.
      const cutOff = new Set(minorityDuring.map((a) => a.value));
      const kept = replicas.map((r) => [...r.values()].filter((v) => cutOff.has(v)).length);
      t.same(kept, [0, 0, 0], 'no replica keeps a record the minority client sent while the old leader was cut off');
    }
  }
  t.comment(`records per replica (broker 1/2/3) by partition: ${lengths.join('; ')}`);
  t.equal(divergent, 0, 'the replicas agree on every offset');
  await etcdProc.stop();
  t.comment(`runtime ${((Date.now() - testStart) / 1000).toFixed(1)} s`);
});
