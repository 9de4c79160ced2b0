// api room unit test: Metadata on a listener some brokers do not have, as Kafka's MetadataCache
// answers it — brokers without an endpoint on the request's listener are left out of the broker
// list, and a partition led by one of them has no leader for this client (leaderId -1) with
// LISTENER_NOT_FOUND from Metadata v6 (LEADER_NOT_AVAILABLE before, as Kafka's v5 and below);
// partitions led by a broker on the listener are answered as usual.
import t from 'tap';
import type { ApiServices } from '../../src/api/services.js';
import { handleMetadata } from '../../src/api/metadata.js';
import type { RequestContext } from '../../src/api/types.js';
import { ErrorCode } from '../../src/errors.js';
import { plaintextSecurity } from '../../src/security/index.js';
import { FakeMetadataStore } from '../helpers/fake-metadata.js';

const metadata = new FakeMetadataStore();
const endpoint = (name: string, port: number) => ({ name, host: '127.0.0.1', port, securityProtocol: 'PLAINTEXT' });
// Broker 1 has EXTERNAL and INTERNAL; broker 2 only INTERNAL.
await metadata.registerBroker({ nodeId: 1, host: '127.0.0.1', port: 9001, rack: null, endpoints: [endpoint('EXTERNAL', 9001), endpoint('INTERNAL', 9101)] });
await metadata.registerBroker({ nodeId: 2, host: '127.0.0.1', port: 9102, rack: null, endpoints: [endpoint('INTERNAL', 9102)] });
await metadata.addTopic('on-1', 1, { replicas: [1, 2], isr: [1, 2], leader: 1 });
await metadata.addTopic('on-2', 1, { replicas: [2, 1], isr: [2, 1], leader: 2 });

function ctx(listenerName: string, apiVersion: number): RequestContext {
  return {
    services: { metadata } as unknown as ApiServices,
    apiKey: 3,
    apiVersion,
    correlationId: 1,
    clientId: 'unit',
    clientHost: '127.0.0.1:1',
    connectionId: 1,
    security: plaintextSecurity(listenerName),
  };
}

type Answer = Awaited<ReturnType<typeof handleMetadata>>;
const partition = (res: Answer, topic: string) => res.topics.find((x) => x.name === topic)?.partitions[0];

t.test('on a listener only broker 1 has', async (t) => {
  const v12 = await handleMetadata({ topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, ctx('EXTERNAL', 12));
  t.same(
    v12.brokers.map((b) => b.nodeId),
    [1],
    'broker 2 (no EXTERNAL endpoint) is left out of the broker list',
  );
  t.match(partition(v12, 'on-1'), { errorCode: ErrorCode.NONE, leaderId: 1, replicaNodes: [1, 2] }, 'led by broker 1: answered as usual');
  t.match(partition(v12, 'on-2'), { errorCode: ErrorCode.LISTENER_NOT_FOUND, leaderId: -1, leaderEpoch: 0, replicaNodes: [2, 1], isrNodes: [2, 1] }, 'led by broker 2: LISTENER_NOT_FOUND, no leader');
  const v5 = await handleMetadata({ topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, ctx('EXTERNAL', 5));
  t.match(partition(v5, 'on-2'), { errorCode: ErrorCode.LEADER_NOT_AVAILABLE, leaderId: -1 }, 'v5: LEADER_NOT_AVAILABLE (LISTENER_NOT_FOUND is v6+)');
  const v6 = await handleMetadata({ topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, ctx('EXTERNAL', 6));
  t.match(partition(v6, 'on-2'), { errorCode: ErrorCode.LISTENER_NOT_FOUND, leaderId: -1 }, 'v6: LISTENER_NOT_FOUND');
});

t.test('on a listener every broker has, nothing changes', async (t) => {
  const res = await handleMetadata({ topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, ctx('INTERNAL', 12));
  t.same(
    res.brokers.map((b) => [b.nodeId, b.port]),
    [
      [1, 9101],
      [2, 9102],
    ],
  );
  t.match(partition(res, 'on-2'), { errorCode: ErrorCode.NONE, leaderId: 2 });
  t.match(partition(res, 'on-1'), { errorCode: ErrorCode.NONE, leaderId: 1 });
});
