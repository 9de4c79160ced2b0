// api/ room tests (groups): what Kafka 4.4 answers when group.coordinator.rebalance.protocols
// leaves out "consumer" (the KIP-848 APIs stay advertised in ApiVersions, their handlers answer
// UNSUPPORTED_VERSION), and DescribeGroups per version for ids that are not classic groups.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/errors.js';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../src/protocol/messages/api-versions.js';
import { ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse } from '../../src/protocol/messages/consumer-group-describe.js';
import { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse } from '../../src/protocol/messages/consumer-group-heartbeat.js';
import { DescribeGroupsRequest, DescribeGroupsResponse } from '../../src/protocol/messages/describe-groups.js';
import { FindCoordinatorRequest, FindCoordinatorResponse } from '../../src/protocol/messages/find-coordinator.js';
import { RawClient, tempDir } from '../helpers/broker.js';

type ApiVersionsRes = ReturnType<typeof ApiVersionsResponse.decodeBuffer>;
type HeartbeatRes = ReturnType<typeof ConsumerGroupHeartbeatResponse.decodeBuffer>;
type ConsumerDescribeRes = ReturnType<typeof ConsumerGroupDescribeResponse.decodeBuffer>;
type DescribeGroupsRes = ReturnType<typeof DescribeGroupsResponse.decodeBuffer>;
type FindCoordinatorRes = ReturnType<typeof FindCoordinatorResponse.decodeBuffer>;

const CONSUMER_GROUP_HEARTBEAT = 68;
const CONSUMER_GROUP_DESCRIBE = 69;
const notYet = new Set<number>([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS]);

async function broker(t: { teardown(fn: () => Promise<void>): void }, config: Record<string, string | number> = {}): Promise<{ b: RunningBroker; client: RawClient }> {
  const dir = tempDir('spool-group-gates-');
  const b = await startBroker({ dataDir: dir.dir, port: 0, host: '127.0.0.1', engine: 'ts', config });
  const client = await RawClient.connect(b.port);
  t.teardown(async () => {
    client.close();
    await b.stop();
    dir.cleanup();
  });
  // The group coordinator comes up with the first FindCoordinator (which creates __consumer_offsets).
  for (let attempt = 0; attempt < 50; attempt++) {
    const r = await client.request<FindCoordinatorRes>(10, 4, FindCoordinatorRequest, FindCoordinatorResponse, { keyType: 0, coordinatorKeys: ['probe'] });
    if (!notYet.has(r.coordinators[0]?.errorCode ?? -1)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { b, client };
}

function heartbeat(client: RawClient, groupId: string, memberId: string): Promise<HeartbeatRes> {
  return client.request<HeartbeatRes>(CONSUMER_GROUP_HEARTBEAT, 0, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, {
    groupId,
    memberId,
    memberEpoch: 0,
    rebalanceTimeoutMs: 30000,
    subscribedTopicNames: ['gates'],
    topicPartitions: [],
  });
}

function describeGroups(client: RawClient, version: number, groups: string[]): Promise<DescribeGroupsRes> {
  return client.request<DescribeGroupsRes>(15, version, DescribeGroupsRequest, DescribeGroupsResponse, { groups, includeAuthorizedOperations: false });
}

t.test('without "consumer" in group.coordinator.rebalance.protocols the KIP-848 APIs stay advertised and answer UNSUPPORTED_VERSION', async (t) => {
  const { client } = await broker(t, { 'group.coordinator.rebalance.protocols': 'classic' });
  const versions = await client.request<ApiVersionsRes>(18, 3, ApiVersionsRequest, ApiVersionsResponse, { clientSoftwareName: 'spool-test', clientSoftwareVersion: '1.0' });
  const advertised = new Set(versions.apiKeys.map((a) => a.apiKey));
  t.ok(advertised.has(CONSUMER_GROUP_HEARTBEAT), 'ConsumerGroupHeartbeat is advertised (as Kafka 4.4: ApiVersions does not follow the protocols setting)');
  t.ok(advertised.has(CONSUMER_GROUP_DESCRIBE), 'ConsumerGroupDescribe is advertised');

  const hb = await heartbeat(client, 'g-classic-only', randomUUID());
  t.equal(hb.errorCode, ErrorCode.UNSUPPORTED_VERSION, 'ConsumerGroupHeartbeat: UNSUPPORTED_VERSION');
  const described = await client.request<ConsumerDescribeRes>(CONSUMER_GROUP_DESCRIBE, 0, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, {
    groupIds: ['g-classic-only', 'other'],
    includeAuthorizedOperations: false,
  });
  t.same(
    described.groups.map((g) => [g.groupId, g.errorCode]),
    [
      ['g-classic-only', ErrorCode.UNSUPPORTED_VERSION],
      ['other', ErrorCode.UNSUPPORTED_VERSION],
    ],
    'ConsumerGroupDescribe: every group UNSUPPORTED_VERSION',
  );
  t.equal((await describeGroups(client, 5, ['g-classic-only'])).groups[0]?.groupState, 'Dead', 'the classic APIs still answer');
});

t.test('DescribeGroups of a consumer-protocol group and of an unknown group, per version (Kafka 4.4)', async (t) => {
  const { client } = await broker(t);
  const hb = await heartbeat(client, 'g-consumer', randomUUID());
  t.equal(hb.errorCode, ErrorCode.NONE, 'a consumer-protocol group is created');

  const v6 = await describeGroups(client, 6, ['g-consumer', 'g-unknown']);
  t.match(v6.groups[0], { groupId: 'g-consumer', errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: 'Group g-consumer is not a classic group.', groupState: 'Dead', members: [] }, 'v6: a consumer group is not a classic group');
  t.match(v6.groups[1], { groupId: 'g-unknown', errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: 'Group g-unknown not found.', groupState: 'Dead' }, 'v6: an unknown group is not found');

  for (const version of [0, 5]) {
    const old = await describeGroups(client, version, ['g-consumer', 'g-unknown']);
    for (const g of old.groups) {
      t.match(g, { errorCode: ErrorCode.NONE, groupState: 'Dead', protocolType: '', members: [] }, `v${version}: ${g.groupId} is Dead with no error`);
    }
  }
});
