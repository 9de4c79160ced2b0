// api/ room tests (share groups): ShareFetch and ShareAcknowledge refuse a member the local share
// group coordinator does not know (Kafka's UNKNOWN_MEMBER_ID) before anything is fetched or any
// share-partition state is created, against fake services.
import t from 'tap';
import { shareFetchApis } from '../../src/api/share-fetch.js';
import type { ApiServices } from '../../src/api/services.js';
import type { RequestContext } from '../../src/api/types.js';
import { ManualClock } from '../../src/coordinator/runtime/memory-log.js';
import { ShareGroupCoordinator } from '../../src/coordinator/share/group-coordinator.js';
import { ErrorCode } from '../../src/errors.js';
import { ApiKey } from '../../src/protocol/index.js';
import { plaintextSecurity } from '../../src/security/index.js';

const TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAQ';

t.test('ShareFetch and ShareAcknowledge of a non-member answer UNKNOWN_MEMBER_ID', async (t) => {
  const groups = new ShareGroupCoordinator({
    clock: new ManualClock(),
    config: { sessionTimeoutMs: 45_000, heartbeatIntervalMs: 5000, maxSize: 10 },
    topicByName: (name) => (name === 'orders' ? { name, topicId: TOPIC_ID, numPartitions: 1 } : undefined),
    otherGroupExists: () => false,
  });
  let stateTopicTouched = false;
  const services = {
    groupCoordinator: { coordinatorErrorFor: () => ErrorCode.NONE },
    share: { groups, partitions: { config: { lockDurationMs: 30_000 } } },
    metadata: {
      topic: () => {
        stateTopicTouched = true;
        return undefined;
      },
    },
  } as unknown as ApiServices;
  const ctx = (apiKey: number): RequestContext => ({
    services,
    apiKey,
    apiVersion: 1,
    correlationId: 1,
    clientId: 'c',
    clientHost: '127.0.0.1:1',
    connectionId: 1,
    security: plaintextSecurity('PLAINTEXT'),
  });
  const [fetchApi, ackApi] = shareFetchApis;
  type AnyHandler = (req: unknown, ctx: RequestContext) => Promise<unknown>;
  const fetchHandler = fetchApi.handler as unknown as AnyHandler;
  const ackHandler = ackApi.handler as unknown as AnyHandler;
  const topics = [{ topicId: TOPIC_ID, partitions: [{ partitionIndex: 0, acknowledgementBatches: [] }] }];
  const fetchReq = { groupId: 'sg', memberId: 'nobody', shareSessionEpoch: 0, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, maxRecords: 10, batchSize: 10, shareAcquireMode: 0, isRenewAck: false, topics, forgottenTopicsData: [] };
  const r = (await fetchHandler(fetchReq, ctx(ApiKey.ShareFetch))) as { errorCode: number; errorMessage: string | null };
  t.equal(r.errorCode, ErrorCode.UNKNOWN_MEMBER_ID, 'no such group: nothing is created for it');
  t.notOk(stateTopicTouched, 'refused before __share_group_state or any share-partition is touched');
  const joined = groups.heartbeat({ groupId: 'sg', memberId: 'm1', memberEpoch: 0, rackId: null, subscribedTopicNames: ['orders'], clientId: 'c', clientHost: '/h' });
  t.equal(joined.errorCode, ErrorCode.NONE);
  const r2 = (await fetchHandler({ ...fetchReq, memberId: 'stranger' }, ctx(ApiKey.ShareFetch))) as { errorCode: number };
  t.equal(r2.errorCode, ErrorCode.UNKNOWN_MEMBER_ID, 'the group exists, the member does not');
  const ackReq = { groupId: 'sg', memberId: 'stranger', shareSessionEpoch: 1, isRenewAck: false, topics: [{ topicId: TOPIC_ID, partitions: [{ partitionIndex: 0, acknowledgementBatches: [{ firstOffset: 0, lastOffset: 0, acknowledgeTypes: [1] }] }] }] };
  const r3 = (await ackHandler(ackReq, ctx(ApiKey.ShareAcknowledge))) as { errorCode: number };
  t.equal(r3.errorCode, ErrorCode.UNKNOWN_MEMBER_ID, 'ShareAcknowledge too');
});
