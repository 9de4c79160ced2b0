// broker room tests: DescribeClientQuotas (KIP-546) v0 and v1. Spool enforces no client quotas, so
// a well-formed filter matches nothing; malformed filters get the errors of Kafka's
// ClientQuotasImage.describe (INVALID_REQUEST, UNSUPPORTED_VERSION for an unknown entity type) with
// null entries; with an authorizer the request needs DESCRIBE_CONFIGS on the cluster (DESCRIBE is
// not enough), else CLUSTER_AUTHORIZATION_FAILED. AlterClientQuotas is not served (not advertised).
// Principals: the test's onRequest hook maps a client id "as-<name>" to User:<name>.
import kafkajs from 'kafkajs';
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/errors.js';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../src/protocol/messages/api-versions.js';
import { DescribeClientQuotasRequest, DescribeClientQuotasResponse } from '../../src/protocol/messages/client-quotas.js';
import { frame, RawClient, requestHeader, tempDir } from '../helpers/broker.js';

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;

const d = tempDir('spool-client-quotas-');
const running = await startBroker({
  dataDir: d.dir,
  port: 0,
  host: '127.0.0.1',
  config: { 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'super.users': 'User:admin' },
});
running.broker.dispatcher.addHook('onRequest', (ctx) => {
  if (ctx.clientId?.startsWith('as-') === true) ctx.security.principal = { principalType: 'User', name: ctx.clientId.slice(3) };
});
t.teardown(async () => {
  await running.stop();
  d.cleanup();
});

interface Component {
  entityType: string;
  matchType: number;
  match: string | null;
}
interface QuotasAnswer {
  throttleTimeMs: number;
  errorCode: number;
  errorMessage: string | null;
  entries: unknown[] | null;
}

let correlationId = 1;
async function describeQuotas(principal: string, components: Component[], version = 1, strict = false): Promise<QuotasAnswer> {
  const c = await RawClient.connect(running.port);
  try {
    const id = correlationId++;
    const body = DescribeClientQuotasRequest.encodeToBuffer({ components, strict }, version);
    c.write(frame(Buffer.concat([requestHeader(48, version, id, version >= 1, `as-${principal}`), body])));
    return await c.receive<QuotasAnswer>(DescribeClientQuotasResponse, version, id, 48);
  } finally {
    c.close();
  }
}

const user = (matchType: number, match: string | null): Component => ({ entityType: 'user', matchType, match });

await t.test('no quotas: every well-formed filter matches nothing, v0 and v1', async (t) => {
  for (const version of [0, 1]) {
    t.same(await describeQuotas('admin', [], version), { throttleTimeMs: 0, errorCode: 0, errorMessage: null, entries: [] }, `v${version}: no filter`);
    t.same(await describeQuotas('admin', [user(0, 'alice')], version, true), { throttleTimeMs: 0, errorCode: 0, errorMessage: null, entries: [] }, `v${version}: user alice, strict`);
  }
  t.same((await describeQuotas('admin', [user(1, null), { entityType: 'client-id', matchType: 2, match: null }])).entries, [], 'default user with any client id');
  t.same((await describeQuotas('admin', [{ entityType: 'ip', matchType: 0, match: '10.0.0.1' }])).entries, [], 'an ip');
});

await t.test("malformed filters get Kafka's errors and no entries", async (t) => {
  const cases: Array<[string, Component[], number, string]> = [
    ['empty entity type', [{ entityType: '', matchType: 0, match: 'x' }], ErrorCode.INVALID_REQUEST, 'Invalid empty entity type.'],
    ['the same type twice', [user(0, 'a'), user(2, null)], ErrorCode.INVALID_REQUEST, 'Entity type user cannot appear more than once in the filter.'],
    ['an unknown entity type', [{ entityType: 'group', matchType: 0, match: 'g' }], ErrorCode.UNSUPPORTED_VERSION, 'Unsupported entity type group'],
    ['exact match without a name', [user(0, null)], ErrorCode.INVALID_REQUEST, 'Request specified MATCH_TYPE_EXACT, but set match string to null.'],
    ['default match with a name', [user(1, 'a')], ErrorCode.INVALID_REQUEST, 'Request specified MATCH_TYPE_DEFAULT, but also specified a match string.'],
    ['any-name match with a name', [user(2, 'a')], ErrorCode.INVALID_REQUEST, 'Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.'],
    ['an unknown match type', [user(7, null)], ErrorCode.INVALID_REQUEST, 'Unknown match type 7'],
    [
      'ip with user',
      [{ entityType: 'ip', matchType: 2, match: null }, user(2, null)],
      ErrorCode.INVALID_REQUEST,
      'Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.',
    ],
  ];
  for (const [what, components, errorCode, errorMessage] of cases) {
    t.same(await describeQuotas('admin', components), { throttleTimeMs: 0, errorCode, errorMessage, entries: null }, what);
  }
});

await t.test('authorization: DESCRIBE_CONFIGS on the cluster', async (t) => {
  const kafka = new Kafka({ clientId: 'as-admin', brokers: [running.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const clusterAcl = (principal: string, operation: kafkajs.AclOperationTypes) => ({
    resourceType: AclResourceTypes.CLUSTER,
    resourceName: 'kafka-cluster',
    resourcePatternType: ResourcePatternTypes.LITERAL,
    principal,
    host: '*',
    operation,
    permissionType: AclPermissionTypes.ALLOW,
  });
  await admin.createAcls({ acl: [clusterAcl('User:ops', AclOperationTypes.DESCRIBE_CONFIGS), clusterAcl('User:viewer', AclOperationTypes.DESCRIBE)] });
  await admin.disconnect();
  const refused = { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.', entries: null };
  t.same(await describeQuotas('ANONYMOUS', []), refused, 'no ACL: CLUSTER_AUTHORIZATION_FAILED');
  t.same(await describeQuotas('viewer', []), refused, 'DESCRIBE on the cluster is not enough');
  t.same(await describeQuotas('ops', [user(0, 'alice')]), { throttleTimeMs: 0, errorCode: 0, errorMessage: null, entries: [] }, 'DESCRIBE_CONFIGS on the cluster: answered');
});

await t.test('ApiVersions lists DescribeClientQuotas v0-1 and not AlterClientQuotas', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const res = await c.request<{ apiKeys: Array<{ apiKey: number; minVersion: number; maxVersion: number }> }>(18, 3, ApiVersionsRequest, ApiVersionsResponse, {
    clientSoftwareName: 'spool-test',
    clientSoftwareVersion: '1.0',
  });
  t.match(res.apiKeys.find((k) => k.apiKey === 48), { minVersion: 0, maxVersion: 1 }, 'DescribeClientQuotas v0-1');
  t.equal(res.apiKeys.find((k) => k.apiKey === 49), undefined, 'AlterClientQuotas is not advertised');
});
