// log room test helpers for the compaction broker tests (test/broker/compaction*.test.ts): the
// engines to run against, waiting for the cleaner, and reading a partition whole with KafkaJS.
import kafkajs from 'kafkajs';
import type { Logger } from 'pino';
import { startBroker, type RunningBroker } from '../../src/index.js';
import type { RawConfig } from '../../src/config/index.js';
import type { Log } from '../../src/log/index.js';
import { loadNative } from '../helpers/engines.js';

const { Kafka, logLevel } = kafkajs;
export type KafkaClient = InstanceType<typeof Kafka>;

interface Tap {
  fail(message: string): void;
  comment(message: string): void;
}

/** 'ts' always; 'native' when the addon loads (a failure instead when CI=true). */
export async function brokerEngines(t: Tap): Promise<Array<'ts' | 'native'>> {
  const native = await loadNative();
  if (native.engine) return ['ts', 'native'];
  if (process.env.CI === 'true') t.fail(`native storage engine did not load: ${native.reason}`);
  else t.comment(`native storage engine not available, testing ts only: ${native.reason}`);
  return ['ts'];
}

export async function startCompactingBroker(dataDir: string, engine: 'ts' | 'native', config: RawConfig = {}, logger?: Logger): Promise<{ running: RunningBroker; kafka: KafkaClient }> {
  const running = await startBroker({
    dataDir,
    port: 0,
    host: '127.0.0.1',
    engine,
    logger,
    config: { 'log.cleaner.backoff.ms': 20, 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.num.partitions': 1, ...config },
  });
  const kafka = new Kafka({ brokers: [`127.0.0.1:${running.port}`], logLevel: logLevel.NOTHING });
  return { running, kafka };
}

export function partitionLog(running: RunningBroker, topic: string, partition = 0): Log {
  const log = running.broker.logManager.getLog(topic, partition);
  if (log === undefined) throw new Error(`no log for ${topic}-${partition}`);
  return log;
}

export function activeSegmentBase(log: Log): number {
  return log.segments().at(-1)?.baseOffset ?? log.logEndOffset;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits (bounded: `timeoutMs`) until the cleaner's checkpoint of the partition reached the active
 * segment's base offset: everything outside the active segment is cleaned. Returns the checkpoint.
 */
export async function waitCleanedUpToActive(running: RunningBroker, topic: string, partition = 0, timeoutMs = 60_000): Promise<number> {
  const cleaner = running.broker.logManager.cleaner;
  if (cleaner === null) throw new Error('the log cleaner is disabled');
  const log = partitionLog(running, topic, partition);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const checkpoint = cleaner.checkpointOf(topic, partition) ?? -1;
    const active = activeSegmentBase(log);
    if (checkpoint >= active && !log.isCleaning) return checkpoint;
    if (Date.now() > deadline) throw new Error(`${topic}-${partition} not cleaned up to ${active} in ${timeoutMs} ms (checkpoint ${checkpoint})`);
    await sleep(20);
  }
}

export interface ConsumedRecord {
  offset: number;
  key: string;
  value: string | null;
}

/** Every record of partition 0 from the beginning up to the high watermark, with a KafkaJS consumer. */
export async function consumeAll(kafka: KafkaClient, topic: string, timeoutMs = 30_000): Promise<ConsumedRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const high = Number((await admin.fetchTopicOffsets(topic)).find((o) => o.partition === 0)?.high ?? 0);
  await admin.disconnect();
  const out: ConsumedRecord[] = [];
  if (high === 0) return out;
  const consumer = kafka.consumer({ groupId: `read-${topic}-${Date.now()}-${Math.random()}`, maxBytes: 4 << 20 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read up to offset ${out.at(-1)?.offset ?? -1} of ${high - 1}`)), timeoutMs);
      void consumer.run({
        eachMessage: ({ message }) => {
          const offset = Number(message.offset);
          out.push({ offset, key: message.key?.toString() ?? '', value: message.value === null ? null : message.value.toString() });
          if (offset >= high - 1) {
            clearTimeout(timer);
            resolve();
          }
          return Promise.resolve();
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** A small seeded PRNG (mulberry32), so a failing run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes of the partition's segments. */
export function logBytes(log: Log): number {
  return log.segments().reduce((sum, s) => sum + s.sizeInBytes, 0);
}
