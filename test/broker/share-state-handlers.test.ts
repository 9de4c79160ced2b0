// api/ room tests (share groups, KIP-932): the share coordinator's RPCs (Initialize/Read/Write/
// Delete/ReadShareGroupStateSummary, keys 83-87) against a real state store on an in-memory log:
// per-partition answers, NOT_COORDINATOR for a state partition not led here,
// COORDINATOR_LOAD_IN_PROGRESS while it loads, FENCED_STATE_EPOCH and FENCED_LEADER_EPOCH as
// Kafka's share coordinator answers them, INVALID_REQUEST without a group id; and the refusal
// shape the authorization layer answers without CLUSTER_ACTION, and that layer on a broker.
import t from 'tap';
import type { ApiServices } from '../../src/api/services.js';
import { refuseShareState, shareCoordinatorError, shareStateApis } from '../../src/api/share-state.js';
import type { RequestContext } from '../../src/api/types.js';
import { ManualClock, MemoryPartitionLog } from '../../src/coordinator/runtime/memory-log.js';
import { statePartitionFor } from '../../src/coordinator/share/records.js';
import { ShareStateStore } from '../../src/coordinator/share/state-store.js';
import { ErrorCode, KafkaError } from '../../src/errors.js';
import { ApiKey } from '../../src/protocol/index.js';
import { ReadShareGroupStateSummaryRequest, ReadShareGroupStateSummaryResponse } from '../../src/protocol/messages/share-state.js';
import { plaintextSecurity } from '../../src/security/index.js';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { RawClient, tempDir } from '../helpers/broker.js';

const TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAQ';
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
type AnyHandler = (req: unknown, ctx: RequestContext) => Promise<unknown>;

interface PartitionResult {
  partition: number;
  errorCode: number;
  errorMessage: string | null;
  stateEpoch?: number;
  leaderEpoch?: number;
  startOffset?: number;
  stateBatches?: unknown[];
}

/** A group id whose share-partition (TOPIC_ID, 0) lives in state partition `p` of 2. */
function groupIn(p: number): string {
  for (let i = 0; i < 1000; i++) if (statePartitionFor({ groupId: `g${i}`, topicId: TOPIC_ID, partition: 0 }, 2) === p) return `g${i}`;
  throw new Error('no such group id');
}

function setup(): { store: ShareStateStore; call: (apiKey: number, req: unknown) => Promise<PartitionResult> } {
  const store = new ShareStateStore({ log: new MemoryPartitionLog(2), numPartitions: 2, clock: new ManualClock(), logger: quiet });
  // The metadata image: TOPIC_ID with 2 partitions.
  const metadata = { topicById: (topicId: string) => (topicId === TOPIC_ID ? { name: 't', topicId, partitions: [{}, {}] } : undefined) };
  const services = { share: { state: store }, metadata } as unknown as ApiServices;
  const handlers = new Map(shareStateApis.map((a) => [a.apiKey, a.handler as unknown as AnyHandler]));
  const call = async (apiKey: number, req: unknown): Promise<PartitionResult> => {
    const handler = handlers.get(apiKey);
    if (handler === undefined) throw new Error(`no handler for ${apiKey}`);
    const ctx: RequestContext = { services, apiKey, apiVersion: 0, correlationId: 1, clientId: 'broker', clientHost: '127.0.0.1:1', connectionId: 1, security: plaintextSecurity('PLAINTEXT') };
    const res = (await handler(req, ctx)) as { results: Array<{ topicId: string; partitions: PartitionResult[] }> };
    if (res.results.length !== 1 || res.results[0].partitions.length !== 1) throw new Error(`expected one partition answered: ${JSON.stringify(res)}`);
    return res.results[0].partitions[0];
  };
  return { store, call };
}

const one = (groupId: string, fields: Record<string, unknown>) => ({ groupId, topics: [{ topicId: TOPIC_ID, partitions: [{ partition: 0, ...fields }] }] });
const batch = { firstOffset: 12, lastOffset: 13, deliveryState: 2, deliveryCount: 1 };

t.test('initialize, read, write, summary and delete on the share coordinator', async (t) => {
  const { store, call } = setup();
  store.onElection(0, 0);
  t.equal(await store.awaitLoaded(0, 10_000), ErrorCode.NONE);
  const g = groupIn(0);

  let r = await call(ApiKey.ReadShareGroupState, one(g, { leaderEpoch: 1 }));
  t.match(r, { errorCode: ErrorCode.NONE, stateEpoch: 0, startOffset: -1, stateBatches: [] }, 'no state: start offset -1');
  r = await call(ApiKey.InitializeShareGroupState, one(g, { stateEpoch: 1, startOffset: 10 }));
  t.equal(r.errorCode, ErrorCode.NONE);
  r = await call(ApiKey.ReadShareGroupState, one(g, { leaderEpoch: 3 }));
  t.match(r, { errorCode: ErrorCode.NONE, stateEpoch: 1, startOffset: 10 }, 'the initialized state');
  r = await call(ApiKey.ReadShareGroupStateSummary, one(g, { leaderEpoch: -1 }));
  t.match(r, { errorCode: ErrorCode.NONE, stateEpoch: 1, leaderEpoch: 3, startOffset: 10 }, "the read recorded the leader's epoch");

  r = await call(ApiKey.WriteShareGroupState, one(g, { stateEpoch: 1, leaderEpoch: 2, startOffset: 12, stateBatches: [batch] }));
  t.equal(r.errorCode, ErrorCode.FENCED_LEADER_EPOCH, 'a write of an older partition leader');
  r = await call(ApiKey.ReadShareGroupState, one(g, { leaderEpoch: 2 }));
  t.equal(r.errorCode, ErrorCode.FENCED_LEADER_EPOCH, 'a read of an older partition leader');
  r = await call(ApiKey.WriteShareGroupState, one(g, { stateEpoch: 1, leaderEpoch: 3, startOffset: 12, stateBatches: [batch] }));
  t.equal(r.errorCode, ErrorCode.NONE);
  r = await call(ApiKey.ReadShareGroupState, one(g, { leaderEpoch: 3 }));
  t.match(r, { stateEpoch: 1, startOffset: 12, stateBatches: [batch] });

  r = await call(ApiKey.InitializeShareGroupState, one(g, { stateEpoch: 0, startOffset: 0 }));
  t.equal(r.errorCode, ErrorCode.FENCED_STATE_EPOCH, 'initializing at an older state epoch');
  r = await call(ApiKey.InitializeShareGroupState, one(g, { stateEpoch: 2, startOffset: 50 }));
  t.equal(r.errorCode, ErrorCode.NONE, 'AlterShareGroupOffsets: a new state epoch');
  r = await call(ApiKey.WriteShareGroupState, one(g, { stateEpoch: 1, leaderEpoch: 3, startOffset: 14, stateBatches: [] }));
  t.equal(r.errorCode, ErrorCode.FENCED_STATE_EPOCH, 'a leader still on the old state epoch');
  r = await call(ApiKey.ReadShareGroupStateSummary, one(g, { leaderEpoch: -1 }));
  t.match(r, { stateEpoch: 2, startOffset: 50 });

  r = await call(ApiKey.DeleteShareGroupState, one(g, {}));
  t.equal(r.errorCode, ErrorCode.NONE);
  r = await call(ApiKey.ReadShareGroupStateSummary, one(g, { leaderEpoch: -1 }));
  t.match(r, { errorCode: ErrorCode.NONE, startOffset: -1, leaderEpoch: -1 }, 'deleted');

  r = await call(ApiKey.WriteShareGroupState, one('', { stateEpoch: 0, leaderEpoch: 0, startOffset: 0, stateBatches: [] }));
  t.equal(r.errorCode, ErrorCode.INVALID_REQUEST, 'no group id');
  store.close();
});

t.test('UNKNOWN_TOPIC_OR_PARTITION for a topic id or partition not in the metadata image, as Kafka answers', async (t) => {
  const { store, call } = setup();
  store.onElection(0, 0);
  store.onElection(1, 0);
  t.equal(await store.awaitLoaded(0, 10_000), ErrorCode.NONE);
  t.equal(await store.awaitLoaded(1, 10_000), ErrorCode.NONE);
  const fields = { stateEpoch: 0, leaderEpoch: 0, startOffset: 0, stateBatches: [] };
  for (const apiKey of [ApiKey.InitializeShareGroupState, ApiKey.ReadShareGroupState, ApiKey.WriteShareGroupState, ApiKey.DeleteShareGroupState, ApiKey.ReadShareGroupStateSummary]) {
    const unknownTopic = await call(apiKey, { groupId: 'g', topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAg', partitions: [{ partition: 0, ...fields }] }] });
    t.equal(unknownTopic.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `key ${apiKey}: unknown topic id`);
    const unknownPartition = await call(apiKey, { groupId: 'g', topics: [{ topicId: TOPIC_ID, partitions: [{ partition: 2, ...fields }] }] });
    t.equal(unknownPartition.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `key ${apiKey}: partition past the topic's count`);
  }
  t.same(store.statesOfGroup('g'), [], 'nothing was written');
  store.close();
});

t.test('NOT_COORDINATOR and COORDINATOR_LOAD_IN_PROGRESS', async (t) => {
  const { store, call } = setup();
  const g0 = groupIn(0);
  const g1 = groupIn(1);
  for (const apiKey of [ApiKey.InitializeShareGroupState, ApiKey.ReadShareGroupState, ApiKey.WriteShareGroupState, ApiKey.DeleteShareGroupState, ApiKey.ReadShareGroupStateSummary]) {
    const r = await call(apiKey, one(g1, { stateEpoch: 0, leaderEpoch: 0, startOffset: 0, stateBatches: [] }));
    t.equal(r.errorCode, ErrorCode.NOT_COORDINATOR, `key ${apiKey}: state partition 1 is not led here`);
  }
  store.onElection(0, 0);
  if (store.errorFor(0) === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) {
    const r = await call(ApiKey.ReadShareGroupState, one(g0, { leaderEpoch: 0 }));
    t.equal(r.errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, 'answered while the shard loads');
  } else {
    t.fail('the shard should still be loading right after the election');
  }
  t.equal(await store.awaitLoaded(0, 10_000), ErrorCode.NONE);
  t.equal((await call(ApiKey.ReadShareGroupState, one(g0, { leaderEpoch: 0 }))).errorCode, ErrorCode.NONE);
  store.onResignation(0, 1);
  t.equal((await call(ApiKey.ReadShareGroupState, one(g0, { leaderEpoch: 0 }))).errorCode, ErrorCode.NOT_COORDINATOR, 'after resignation');
  store.close();
});

t.test("append errors map as Kafka's share coordinator maps them; refusals keep the response shape", (t) => {
  t.equal(shareCoordinatorError(new KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS, 'x')).errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  t.equal(shareCoordinatorError(new KafkaError(ErrorCode.REQUEST_TIMED_OUT, 'x')).errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  t.equal(shareCoordinatorError(new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'x')).errorCode, ErrorCode.NOT_COORDINATOR);
  t.equal(shareCoordinatorError(new KafkaError(ErrorCode.FENCED_STATE_EPOCH, 'x')).errorCode, ErrorCode.FENCED_STATE_EPOCH);
  t.equal(shareCoordinatorError(new Error('boom')).errorCode, ErrorCode.UNKNOWN_SERVER_ERROR);
  const req = { topics: [{ topicId: TOPIC_ID, partitions: [{ partition: 0 }, { partition: 3 }] }] };
  t.same(refuseShareState(req, ApiKey.ReadShareGroupStateSummary, ErrorCode.CLUSTER_AUTHORIZATION_FAILED), {
    results: [
      {
        topicId: TOPIC_ID,
        partitions: [0, 3].map((partition) => ({ partition, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null, stateEpoch: 0, leaderEpoch: -1, startOffset: -1 })),
      },
    ],
  });
  t.end();
});

t.test('the share-state RPCs need CLUSTER_ACTION on the cluster (brokers send them)', async (t) => {
  const d = tempDir('spool-share-state-authz-');
  const running: RunningBroker = await startBroker({
    dataDir: d.dir,
    port: 0,
    host: '127.0.0.1',
    config: { 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'super.users': 'User:admin' },
  });
  t.teardown(async () => {
    await running.stop();
    d.cleanup();
  });
  const byPort = new Map<number, string>();
  running.broker.dispatcher.addHook('onRequest', (ctx) => {
    const name = byPort.get(Number(ctx.clientHost.slice(ctx.clientHost.lastIndexOf(':') + 1)));
    if (name !== undefined) ctx.security.principal = { principalType: 'User', name };
  });
  const connectAs = async (name: string): Promise<RawClient> => {
    const raw = await RawClient.connect(running.port);
    byPort.set(raw.socket.localPort ?? -1, name);
    t.teardown(() => raw.close());
    return raw;
  };
  const req = one('g', { leaderEpoch: -1 });
  interface Summary { results: Array<{ partitions: PartitionResult[] }> }
  const alice = await connectAs('alice');
  const refused = await alice.request<Summary>(ApiKey.ReadShareGroupStateSummary, 0, ReadShareGroupStateSummaryRequest, ReadShareGroupStateSummaryResponse, req);
  t.equal(refused.results[0].partitions[0].errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'a client without CLUSTER_ACTION');
  const broker = await connectAs('admin');
  const served = await broker.request<Summary>(ApiKey.ReadShareGroupStateSummary, 0, ReadShareGroupStateSummaryRequest, ReadShareGroupStateSummaryResponse, req);
  t.equal(served.results[0].partitions[0].errorCode, ErrorCode.NOT_COORDINATOR, 'a broker principal is served (no __share_group_state here yet: NOT_COORDINATOR)');
});
