// api/ room: the share coordinator's inter-broker RPCs (KIP-932, Kafka's ShareCoordinatorService)
// and the persister that sends them (Kafka's DefaultStatePersister / PersisterStateManager).
//
// Served on the broker leading the __share_group_state partition of "group:topicId:partition":
// InitializeShareGroupState (83), ReadShareGroupState (84), WriteShareGroupState (85),
// DeleteShareGroupState (86), ReadShareGroupStateSummary (87). Each partition answers its own
// code: NOT_COORDINATOR when its state partition is not led here, COORDINATOR_LOAD_IN_PROGRESS
// while it loads, FENCED_STATE_EPOCH / FENCED_LEADER_EPOCH for a write (or read) older than the
// stored state, and the coordinator runtime's append errors mapped as Kafka maps them.
//
// The persister runs on share-partition leaders and group coordinators: it finds the key's share
// coordinator as FindCoordinator (key type SHARE) answers it on this broker — the leader of the
// key's state partition in the metadata image — serves the key from the local state store when
// that is this broker, and otherwise sends the RPC over an inter-broker connection. It retries,
// looking the coordinator up again, on NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
// COORDINATOR_LOAD_IN_PROGRESS and network errors, with a backoff, until its deadline.
import { SHARE_GROUP_STATE_TOPIC, summaryOrNull, type PersistedShareState, type SharePartitionKey, type ShareStatePersister, type ShareStateSummaryView } from '../coordinator/share/index.js';
import { ErrorCode, KafkaError, errorName } from '../errors.js';
import { BrokerConnection } from '../network/index.js';
import { ApiKey, type DecodedResponseFor, type KnownApiKey, type RequestInputFor } from '../protocol/index.js';
import type {
  DeleteShareGroupStateRequest,
  DeleteShareGroupStateResponse,
  InitializeShareGroupStateRequest,
  InitializeShareGroupStateResponse,
  ReadShareGroupStateRequest,
  ReadShareGroupStateResponse,
  ReadShareGroupStateSummaryRequest,
  ReadShareGroupStateSummaryResponse,
  WriteShareGroupStateRequest,
  WriteShareGroupStateResponse,
} from '../protocol/messages/share-state.js';
import { noPeerAddressReason, peerAddress } from '../replication/index.js';
import type { ApiServices } from './services.js';
import { ensureShareStateTopic } from './share-groups.js';
import { defineApi, type ApiRegistration, type RequestContext } from './types.js';

interface PartitionError {
  errorCode: number;
  errorMessage: string | null;
}

/** Kafka's ShareCoordinatorService error mapping of what the runtime throws. */
export function shareCoordinatorError(err: unknown): PartitionError {
  if (!(err instanceof KafkaError)) return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: err instanceof Error ? err.message : String(err) };
  switch (err.code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode.REQUEST_TIMED_OUT:
      return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: err.message };
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return { errorCode: ErrorCode.NOT_COORDINATOR, errorMessage: err.message };
    default:
      return { errorCode: err.code, errorMessage: err.message };
  }
}

const OK: PartitionError = { errorCode: ErrorCode.NONE, errorMessage: null };
const NO_GROUP: PartitionError = { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Group id must be set.' };

/**
 * Runs `serve` for every partition of every topic, concurrently, keeping the request's order;
 * a partition whose state partition is not served here, or whose topic-partition does not exist,
 * gets its error without `serve`.
 */
async function perPartition<P extends { partition: number }, R>(
  services: ApiServices,
  groupId: string,
  topics: ReadonlyArray<{ topicId: string; partitions: readonly P[] }>,
  serve: (key: SharePartitionKey, p: P) => Promise<R>,
  failed: (p: P, e: PartitionError) => R,
): Promise<Array<{ topicId: string; partitions: R[] }>> {
  return Promise.all(
    topics.map(async (t) => ({
      topicId: t.topicId,
      partitions: await Promise.all(
        t.partitions.map(async (p) => {
          if (groupId.length === 0) return failed(p, NO_GROUP);
          const key = { groupId, topicId: t.topicId, partition: p.partition };
          const refused = keyError(services, key);
          if (refused !== null) return failed(p, refused);
          try {
            return await serve(key, p);
          } catch (err) {
            return failed(p, shareCoordinatorError(err));
          }
        }),
      ),
    })),
  );
}

/**
 * The share coordinator's answer for `key` when its state partition is not served here now, or,
 * as Kafka's ShareCoordinatorShard answers, UNKNOWN_TOPIC_OR_PARTITION when the topic id or the
 * partition is not in the metadata image; null when it is served.
 */
function keyError(services: ApiServices, key: SharePartitionKey): PartitionError | null {
  const statePartition = services.share.state.partitionFor(key);
  const code = services.share.state.errorFor(statePartition);
  if (code !== ErrorCode.NONE) return { errorCode: code, errorMessage: `${SHARE_GROUP_STATE_TOPIC}-${statePartition} is not served here (${errorName(code)})` };
  const topic = services.metadata.topicById(key.topicId);
  if (topic === undefined || key.partition < 0 || key.partition >= topic.partitions.length) {
    return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic or partition not found: ${key.topicId}-${key.partition}.` };
  }
  return null;
}

async function handleInitialize(req: InitializeShareGroupStateRequest, ctx: RequestContext): Promise<InitializeShareGroupStateResponse> {
  const store = ctx.services.share.state;
  const results = await perPartition(
    ctx.services,
    req.groupId,
    req.topics,
    async (key, p) => {
      await store.initialize(key, p.stateEpoch, p.startOffset);
      return { partition: p.partition, ...OK };
    },
    (p, e) => ({ partition: p.partition, ...e }),
  );
  return { results };
}

async function handleRead(req: ReadShareGroupStateRequest, ctx: RequestContext): Promise<ReadShareGroupStateResponse> {
  const store = ctx.services.share.state;
  const results = await perPartition(
    ctx.services,
    req.groupId,
    req.topics,
    async (key, p) => {
      const s = await store.readForLeader(key, p.leaderEpoch);
      // No state: start offset -1 (not initialized), as Kafka's share coordinator answers.
      return { partition: p.partition, ...OK, stateEpoch: s?.stateEpoch ?? 0, startOffset: s?.startOffset ?? -1, stateBatches: s?.stateBatches ?? [] };
    },
    (p, e) => ({ partition: p.partition, ...e, stateEpoch: 0, startOffset: -1, stateBatches: [] }),
  );
  return { results };
}

async function handleWrite(req: WriteShareGroupStateRequest, ctx: RequestContext): Promise<WriteShareGroupStateResponse> {
  const store = ctx.services.share.state;
  const results = await perPartition(
    ctx.services,
    req.groupId,
    req.topics,
    async (key, p) => {
      await store.write(key, { stateEpoch: p.stateEpoch, startOffset: p.startOffset, stateBatches: p.stateBatches }, p.leaderEpoch);
      return { partition: p.partition, ...OK };
    },
    (p, e) => ({ partition: p.partition, ...e }),
  );
  return { results };
}

async function handleDelete(req: DeleteShareGroupStateRequest, ctx: RequestContext): Promise<DeleteShareGroupStateResponse> {
  const store = ctx.services.share.state;
  const results = await perPartition(
    ctx.services,
    req.groupId,
    req.topics,
    async (key, p) => {
      await store.delete(key);
      return { partition: p.partition, ...OK };
    },
    (p, e) => ({ partition: p.partition, ...e }),
  );
  return { results };
}

async function handleReadSummary(req: ReadShareGroupStateSummaryRequest, ctx: RequestContext): Promise<ReadShareGroupStateSummaryResponse> {
  const store = ctx.services.share.state;
  const results = await perPartition(
    ctx.services,
    req.groupId,
    req.topics,
    (key, p) => {
      const s = store.summary(key);
      return Promise.resolve({ partition: p.partition, ...OK, stateEpoch: s?.stateEpoch ?? 0, leaderEpoch: s?.leaderEpoch ?? -1, startOffset: s?.startOffset ?? -1 });
    },
    (p, e) => ({ partition: p.partition, ...e, stateEpoch: 0, leaderEpoch: -1, startOffset: -1 }),
  );
  return { results };
}

export const shareStateApis: ApiRegistration[] = [
  defineApi({ apiKey: ApiKey.InitializeShareGroupState, handler: handleInitialize }),
  defineApi({ apiKey: ApiKey.ReadShareGroupState, handler: handleRead }),
  defineApi({ apiKey: ApiKey.WriteShareGroupState, handler: handleWrite }),
  defineApi({ apiKey: ApiKey.DeleteShareGroupState, handler: handleDelete }),
  defineApi({ apiKey: ApiKey.ReadShareGroupStateSummary, handler: handleReadSummary }),
];

/** The share-state APIs, for the authorization layer: CLUSTER_ACTION only (brokers send them). */
export const SHARE_STATE_API_KEYS: ReadonlySet<number> = new Set(shareStateApis.map((a) => a.apiKey));

/** A refusal of a share-state request in its response's shape: every partition answers `errorCode`. */
export function refuseShareState(request: { topics: ReadonlyArray<{ topicId: string; partitions: ReadonlyArray<{ partition: number }> }> }, apiKey: number, errorCode: number): unknown {
  const results = request.topics.map((t) => ({
    topicId: t.topicId,
    partitions: t.partitions.map((p) => {
      const base = { partition: p.partition, errorCode, errorMessage: null };
      if (apiKey === ApiKey.ReadShareGroupState) return { ...base, stateEpoch: 0, startOffset: -1, stateBatches: [] };
      if (apiKey === ApiKey.ReadShareGroupStateSummary) return { ...base, stateEpoch: 0, leaderEpoch: -1, startOffset: -1 };
      return base;
    }),
  }));
  return { results };
}

// -----------------------------------------------------------------------------------------------
// The persister

const RETRIABLE = new Set<number>([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.NETWORK_EXCEPTION, ErrorCode.REQUEST_TIMED_OUT]);

export interface InterBrokerPersisterOptions {
  /** How long one persister call keeps retrying before it fails with the last error. */
  deadlineMs: number;
  /** Timeout of one request (and of connecting). */
  requestTimeoutMs: number;
  /** First retry backoff; doubles up to 1 s. */
  retryBackoffMs: number;
}

/** Where a key's share coordinator is; a remote one with the calling operation's deadline. */
type Located = { local: true } | { local: false; nodeId: number; deadline: number };

/** Kafka's DefaultStatePersister over Spool's inter-broker connections. */
export class InterBrokerStatePersister implements ShareStatePersister {
  private readonly connections = new Map<number, Promise<BrokerConnection>>();
  private closed = false;

  constructor(
    private readonly services: () => ApiServices,
    private readonly options: InterBrokerPersisterOptions,
  ) {}

  read(key: SharePartitionKey, leaderEpoch: number): Promise<PersistedShareState | null> {
    return this.call(key, 'read', true, async (at) => {
      const { state } = this.services().share;
      if (at.local) return state.readForLeader(key, leaderEpoch);
      const res = await this.send(at, ApiKey.ReadShareGroupState, {
        groupId: key.groupId,
        topics: [{ topicId: key.topicId, partitions: [{ partition: key.partition, leaderEpoch }] }],
      });
      const p = res.results[0]?.partitions[0];
      throwIfError(p);
      // A state never written answers start offset -1 with no batches (and so does one initialized without a start offset).
      if ((p.startOffset < 0 && p.stateBatches.length === 0 && p.stateEpoch === 0)) return null;
      return { stateEpoch: p.stateEpoch, startOffset: p.startOffset, stateBatches: p.stateBatches };
    });
  }

  async write(key: SharePartitionKey, state: PersistedShareState, leaderEpoch: number): Promise<void> {
    await this.call(key, 'write', false, async (at) => {
      if (at.local) return this.services().share.state.write(key, state, leaderEpoch);
      const res = await this.send(at, ApiKey.WriteShareGroupState, {
        groupId: key.groupId,
        topics: [{ topicId: key.topicId, partitions: [{ partition: key.partition, stateEpoch: state.stateEpoch, leaderEpoch, startOffset: state.startOffset, stateBatches: state.stateBatches }] }],
      });
      throwIfError(res.results[0]?.partitions[0]);
    });
  }

  async initialize(key: SharePartitionKey, stateEpoch: number, startOffset: number): Promise<void> {
    await this.call(key, 'initialize', false, async (at) => {
      if (at.local) return this.services().share.state.initialize(key, stateEpoch, startOffset);
      const res = await this.send(at, ApiKey.InitializeShareGroupState, {
        groupId: key.groupId,
        topics: [{ topicId: key.topicId, partitions: [{ partition: key.partition, stateEpoch, startOffset }] }],
      });
      throwIfError(res.results[0]?.partitions[0]);
    });
  }

  async delete(key: SharePartitionKey): Promise<void> {
    await this.call(key, 'delete', true, async (at) => {
      if (at.local) return this.services().share.state.delete(key);
      const res = await this.send(at, ApiKey.DeleteShareGroupState, {
        groupId: key.groupId,
        topics: [{ topicId: key.topicId, partitions: [{ partition: key.partition }] }],
      });
      throwIfError(res.results[0]?.partitions[0]);
    });
  }

  readSummary(key: SharePartitionKey): Promise<ShareStateSummaryView | null> {
    return this.call(key, 'read summary', true, async (at) => {
      if (at.local) return summaryOrNull(this.services().share.state.summary(key));
      const res = await this.send(at, ApiKey.ReadShareGroupStateSummary, {
        groupId: key.groupId,
        topics: [{ topicId: key.topicId, partitions: [{ partition: key.partition, leaderEpoch: -1 }] }],
      });
      const p = res.results[0]?.partitions[0];
      throwIfError(p);
      return summaryOrNull({ stateEpoch: p.stateEpoch, leaderEpoch: p.leaderEpoch, startOffset: p.startOffset });
    });
  }

  close(): void {
    this.closed = true;
    for (const nodeId of [...this.connections.keys()]) this.drop(nodeId);
  }

  /**
   * Runs `op` against the key's share coordinator until it answers, retrying retriable errors
   * (with a fresh look-up) until the deadline. `readOnly` calls answer "no state" at once when
   * __share_group_state does not exist; the others create it.
   */
  private async call<R>(key: SharePartitionKey, what: string, readOnly: boolean, op: (at: Located) => Promise<R>): Promise<R | null> {
    const services = this.services();
    if (services.metadata.topic(SHARE_GROUP_STATE_TOPIC) === undefined) {
      if (readOnly) return null;
      await ensureShareStateTopic(services);
    }
    const deadline = Date.now() + this.options.deadlineMs;
    let backoff = this.options.retryBackoffMs;
    // Bounded by the deadline: every round either returns, throws, or sleeps the backoff.
    for (;;) {
      let err: unknown;
      try {
        return await op(await this.locate(key, deadline));
      } catch (e) {
        err = e;
      }
      const code = err instanceof KafkaError ? err.code : ErrorCode.NETWORK_EXCEPTION;
      if (code === ErrorCode.SASL_AUTHENTICATION_FAILED) {
        services.logger.error({ shareKey: `${key.groupId}:${key.topicId}:${key.partition}`, what, err: String(err) }, 'SASL authentication to the share coordinator failed (inter-broker credentials)');
      }
      if (!RETRIABLE.has(code) || this.closed || Date.now() + backoff > deadline) {
        if (err instanceof KafkaError) throw err;
        throw new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `share state ${what} for ${key.groupId}:${key.topicId}:${key.partition} failed: ${String(err)}`);
      }
      services.logger.debug({ shareKey: `${key.groupId}:${key.topicId}:${key.partition}`, what, code, err: String(err) }, 'share coordinator request failed; retrying');
      // Unref'd: a retry in backoff does not keep the process alive.
      await new Promise((resolve) => setTimeout(resolve, backoff).unref());
      backoff = Math.min(1000, backoff * 2);
    }
  }

  /** The key's share coordinator, as FindCoordinator (key type SHARE) answers it on this broker. */
  private async locate(key: SharePartitionKey, deadline: number): Promise<Located> {
    const services = this.services();
    const statePartition = services.share.state.partitionFor(key);
    const leader = services.metadata.partition(SHARE_GROUP_STATE_TOPIC, statePartition)?.leader ?? -1;
    if (leader < 0) throw new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${SHARE_GROUP_STATE_TOPIC}-${statePartition} has no leader`);
    if (leader !== services.nodeId) return { local: false, nodeId: leader, deadline };
    // Led here: wait for the shard to load (a just-created topic, a fresh election) rather than spin.
    const code = await services.share.state.awaitLoaded(statePartition, Math.max(0, Math.min(5000, deadline - Date.now())));
    if (code !== ErrorCode.NONE) throw new KafkaError(code, `${SHARE_GROUP_STATE_TOPIC}-${statePartition} is not served here yet (${errorName(code)})`);
    return { local: true };
  }

  /** One request to broker `nodeId`; a connection failure drops the connection (the next call opens another) and counts as NETWORK_EXCEPTION. */
  private async send<K extends KnownApiKey>(at: { nodeId: number; deadline: number }, apiKey: K, body: RequestInputFor<K>): Promise<DecodedResponseFor<K>> {
    const { nodeId } = at;
    const connection = await this.connection(nodeId, this.timeoutWithin(at.deadline)).catch((err: unknown) => {
      throw err instanceof KafkaError ? err : new KafkaError(ErrorCode.NETWORK_EXCEPTION, `connecting to broker ${nodeId}: ${String(err)}`);
    });
    try {
      // Each request ends by the operation's deadline (replica.socket.timeout.ms may be longer).
      return await connection.request(apiKey, 0, body, this.timeoutWithin(at.deadline));
    } catch (err) {
      this.drop(nodeId);
      throw new KafkaError(ErrorCode.NETWORK_EXCEPTION, `request ${apiKey} to broker ${nodeId}: ${String(err)}`);
    }
  }

  /** One request's timeout: the configured one, cut to what is left until `deadline`. */
  private timeoutWithin(deadline: number): number {
    return Math.max(1, Math.min(this.options.requestTimeoutMs, deadline - Date.now()));
  }

  private connection(nodeId: number, connectTimeoutMs: number): Promise<BrokerConnection> {
    const existing = this.connections.get(nodeId);
    if (existing !== undefined) {
      return existing.then((c) => {
        if (c.isOpen) return c;
        if (this.connections.get(nodeId) === existing) this.connections.delete(nodeId);
        return this.connection(nodeId, connectTimeoutMs);
      });
    }
    const services = this.services();
    const broker = services.metadata.brokers().find((b) => b.nodeId === nodeId);
    if (broker === undefined) return Promise.reject(new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `broker ${nodeId} is not registered`));
    const address = peerAddress(services.config, broker);
    if (address === null) return Promise.reject(new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, noPeerAddressReason(services.config, broker)));
    const opening = BrokerConnection.open({
      ...address,
      clientId: `spool-share-persister-${services.nodeId}`,
      maxResponseBytes: 16 * 1024 * 1024,
      connectTimeoutMs,
    });
    opening.catch(() => {
      if (this.connections.get(nodeId) === opening) this.connections.delete(nodeId);
    });
    this.connections.set(nodeId, opening);
    return opening;
  }

  private drop(nodeId: number): void {
    const c = this.connections.get(nodeId);
    this.connections.delete(nodeId);
    void c?.then((conn) => conn.close()).catch(() => undefined);
  }
}

function throwIfError<P extends PartitionError>(p: P | undefined): asserts p is P {
  if (p === undefined) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'the share coordinator answered no partition');
  if (p.errorCode !== ErrorCode.NONE) throw new KafkaError(p.errorCode, p.errorMessage ?? errorName(p.errorCode));
}
