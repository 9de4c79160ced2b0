// coordinator/txn room: the records of __transaction_state in Kafka's format, and which partition
// a transactional id maps to. Key: version int16 (0) + TransactionalId string. Value: version
// int16 0 (non-flexible): ProducerId int64, ProducerEpoch int16, TransactionTimeoutMs int32,
// TransactionStatus int8, TransactionPartitions nullable [Topic string, PartitionIds [int32]],
// TransactionLastUpdateTimestampMs int64, TransactionStartTimestampMs int64. Version 1 (flexible,
// with tagged PreviousProducerId(0)/NextProducerId(1)/ClientTransactionVersion(2)) is read, and
// written when those tags matter: a transaction of a transactions-V2 client, or a producer id
// rotation pending (as Kafka writes v1 once transaction.version ≥ 1 is finalized).
import { Reader, Writer } from '../../protocol/index.js';
import { javaStringHashCode } from '../group/records.js';

export const TRANSACTION_STATE_TOPIC = '__transaction_state';

/** Kafka's TransactionState ids, as written in TransactionStatus. */
export const TxnState = {
  Empty: 0,
  Ongoing: 1,
  PrepareCommit: 2,
  PrepareAbort: 3,
  CompleteCommit: 4,
  CompleteAbort: 5,
  Dead: 6,
  PrepareEpochFence: 7,
} as const;
export type TxnState = (typeof TxnState)[keyof typeof TxnState];

/** Kafka's state names (DescribeTransactions, ListTransactions filters, kafka-transactions). */
export const TXN_STATE_NAMES: Record<TxnState, string> = {
  0: 'Empty',
  1: 'Ongoing',
  2: 'PrepareCommit',
  3: 'PrepareAbort',
  4: 'CompleteCommit',
  5: 'CompleteAbort',
  6: 'Dead',
  7: 'PrepareEpochFence',
};

export interface TxnTopicPartitions {
  topic: string;
  partitions: number[];
}

export interface TxnLogValue {
  producerId: number;
  producerEpoch: number;
  /** Tagged in v1; -1 when unknown. */
  previousProducerId: number;
  /** Tagged in v1: the producer id a transactions-V2 end moves to when the epoch is exhausted; -1 when none. */
  nextProducerId?: number;
  /** Tagged in v1: the transaction version of the client's last transaction (0/1: V1 rules, 2: V2); 0 when absent. */
  clientTransactionVersion?: number;
  transactionTimeoutMs: number;
  state: TxnState;
  partitions: TxnTopicPartitions[];
  lastUpdateTimestampMs: number;
  startTimestampMs: number;
}

const KEY_VERSION = 0;
const VALUE_VERSION = 0;

export function encodeTxnKey(transactionalId: string): Buffer {
  const w = new Writer(transactionalId.length + 8);
  w.int16(KEY_VERSION);
  w.string(transactionalId, false);
  return w.toBuffer();
}

export function decodeTxnKey(buf: Buffer): string {
  const r = new Reader(buf);
  const version = r.int16();
  if (version !== KEY_VERSION) throw new RangeError(`unknown __transaction_state key version ${version}`);
  const id = r.string(false);
  if (id === null) throw new RangeError('__transaction_state key without a transactional id');
  return id;
}

export function encodeTxnValue(v: TxnLogValue): Buffer {
  const nextProducerId = v.nextProducerId ?? -1;
  const clientTransactionVersion = v.clientTransactionVersion ?? 0;
  const flexible = clientTransactionVersion >= 2 || nextProducerId >= 0;
  const w = new Writer(64);
  w.int16(flexible ? 1 : VALUE_VERSION);
  w.int64(v.producerId);
  w.int16(v.producerEpoch);
  w.int32(v.transactionTimeoutMs);
  w.int8(v.state);
  if (v.state === TxnState.Empty) {
    w.length(-1, flexible, true);
  } else {
    w.length(v.partitions.length, flexible, true);
    for (const t of v.partitions) {
      w.string(t.topic, flexible);
      w.length(t.partitions.length, flexible, true);
      for (const p of t.partitions) w.int32(p);
      if (flexible) w.uvarint(0);
    }
  }
  w.int64(v.lastUpdateTimestampMs);
  w.int64(v.startTimestampMs);
  if (flexible) {
    // Tagged fields in tag order, each only when it differs from its default.
    const tags: Array<[number, (x: Writer) => void, number]> = [];
    if (v.previousProducerId !== -1) tags.push([0, (x) => x.int64(v.previousProducerId), 8]);
    if (nextProducerId !== -1) tags.push([1, (x) => x.int64(nextProducerId), 8]);
    if (clientTransactionVersion !== 0) tags.push([2, (x) => x.int16(clientTransactionVersion), 2]);
    w.uvarint(tags.length);
    for (const [tag, write, size] of tags) {
      w.uvarint(tag);
      w.uvarint(size);
      write(w);
    }
  }
  return w.toBuffer();
}

function skipTaggedFields(r: Reader, onTag: (tag: number, size: number) => void): void {
  const count = r.uvarint();
  for (let i = 0; i < count; i++) {
    const tag = r.uvarint();
    const size = r.uvarint();
    const start = r.pos;
    onTag(tag, size);
    r.pos = start + size;
  }
}

export function decodeTxnValue(buf: Buffer): TxnLogValue {
  const r = new Reader(buf);
  const version = r.int16();
  if (version !== 0 && version !== 1) throw new RangeError(`unknown __transaction_state value version ${version}`);
  const flexible = version >= 1;
  const producerId = r.int64();
  const producerEpoch = r.int16();
  const transactionTimeoutMs = r.int32();
  const state = r.int8() as TxnState;
  const count = flexible ? r.uvarint() - 1 : r.int32();
  const partitions: TxnTopicPartitions[] = [];
  for (let i = 0; i < count; i++) {
    const topic = r.string(flexible) ?? '';
    const n = flexible ? r.uvarint() - 1 : r.int32();
    const ids: number[] = [];
    for (let j = 0; j < n; j++) ids.push(r.int32());
    if (flexible) skipTaggedFields(r, () => undefined);
    partitions.push({ topic, partitions: ids });
  }
  const lastUpdateTimestampMs = r.int64();
  const startTimestampMs = r.int64();
  let previousProducerId = -1;
  let nextProducerId = -1;
  let clientTransactionVersion = 0;
  if (flexible) {
    skipTaggedFields(r, (tag) => {
      if (tag === 0) previousProducerId = r.int64();
      else if (tag === 1) nextProducerId = r.int64();
      else if (tag === 2) clientTransactionVersion = r.int16();
    });
  }
  const value: TxnLogValue = { producerId, producerEpoch, previousProducerId, transactionTimeoutMs, state, partitions, lastUpdateTimestampMs, startTimestampMs };
  // The v1 tags are only there in v1.
  return flexible ? { ...value, nextProducerId, clientTransactionVersion } : value;
}

/** Kafka's partitionFor(transactionalId): Utils.abs(hashCode) % transaction.state.log.num.partitions. */
export function partitionForTxnId(transactionalId: string, numPartitions: number): number {
  const h = javaStringHashCode(transactionalId);
  const abs = h === -2147483648 ? 0 : Math.abs(h);
  return abs % numPartitions;
}
