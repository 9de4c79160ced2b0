// security tests: the ACL authorizer's decisions as Kafka's StandardAuthorizer makes them —
// literal, prefixed and wildcard resources, the User:* principal, hosts, DENY over ALLOW, the
// operations READ/WRITE/DELETE/ALTER and ALTER_CONFIGS imply, super.users,
// allow.everyone.if.no.acl.found — and the filters DescribeAcls/DeleteAcls match with.
import t from 'tap';
import {
  AclAuthorizer,
  AclOperation,
  AclPermissionType,
  PatternType,
  ResourceType,
  bindingProblem,
  clientAddress,
  filterMatches,
  parseSuperUsers,
  type AclBinding,
  type AuthorizerSettings,
} from '../../src/security/authorizer/index.js';
import { BrokerConfig } from '../../src/config/index.js';

const { TOPIC, GROUP, CLUSTER } = ResourceType;
const { READ, WRITE, DESCRIBE, DELETE, ALTER_CONFIGS, DESCRIBE_CONFIGS, ALL, CREATE } = AclOperation;
const { ALLOW, DENY } = AclPermissionType;
const { LITERAL, PREFIXED } = PatternType;

function acl(resourceType: number, resourceName: string, patternType: number, principal: string, operation: number, permissionType: number, host = '*'): AclBinding {
  return { resourceType, resourceName, patternType, principal, host, operation, permissionType };
}

interface Logged {
  level: 'info' | 'debug';
  obj: Record<string, unknown>;
  msg: string;
}

function authorizer(acls: AclBinding[], settings: Partial<AuthorizerSettings> = {}): { az: AclAuthorizer; logged: Logged[]; acls: AclBinding[] } {
  const logged: Logged[] = [];
  const logger = {
    info: (obj: object, msg: string) => logged.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
    debug: (obj: object, msg: string) => logged.push({ level: 'debug', obj: obj as Record<string, unknown>, msg }),
  };
  const list = [...acls];
  const az = new AclAuthorizer(() => list, { superUsers: settings.superUsers ?? new Set(), allowEveryoneIfNoAclFound: settings.allowEveryoneIfNoAclFound ?? false }, logger);
  return { az, logged, acls: list };
}

const alice = { principal: { principalType: 'User', name: 'alice' }, host: '10.0.0.1', api: 'Produce' };
const bob = { principal: { principalType: 'User', name: 'bob' }, host: '10.0.0.2', api: 'Produce' };
const can = (az: AclAuthorizer, who: typeof alice, operation: AclOperation, resourceType: ResourceType, resourceName: string): boolean =>
  az.authorize(who, { operation, resourceType, resourceName });

t.test('no ACL: denied by default; a literal ACL allows exactly its resource, operation and principal', async (t) => {
  const { az } = authorizer([acl(TOPIC, 'orders', LITERAL, 'User:alice', WRITE, ALLOW)]);
  t.ok(can(az, alice, WRITE, TOPIC, 'orders'), 'alice may write orders');
  t.notOk(can(az, alice, WRITE, TOPIC, 'orders-2'), 'a literal name is not a prefix');
  t.notOk(can(az, alice, READ, TOPIC, 'orders'), 'WRITE does not imply READ');
  t.notOk(can(az, bob, WRITE, TOPIC, 'orders'), 'another principal is not allowed');
  t.notOk(can(az, alice, WRITE, GROUP, 'orders'), 'the same name of another resource type is another resource');
  t.notOk(can(az, alice, WRITE, TOPIC, 'payments'), 'a topic without ACLs is denied');
});

t.test('prefixed ACLs match every name starting with the prefix; "*" and User:* match everything', async (t) => {
  const { az } = authorizer([
    acl(TOPIC, 'pay.', PREFIXED, 'User:alice', READ, ALLOW),
    acl(GROUP, '*', LITERAL, 'User:alice', READ, ALLOW),
    acl(TOPIC, 'public', LITERAL, 'User:*', READ, ALLOW),
  ]);
  t.ok(can(az, alice, READ, TOPIC, 'pay.eu'), 'prefix pay. covers pay.eu');
  t.ok(can(az, alice, READ, TOPIC, 'pay.'), 'and the prefix itself');
  t.notOk(can(az, alice, READ, TOPIC, 'pay'), 'but not a shorter name');
  t.ok(can(az, alice, READ, GROUP, 'any-group'), 'the literal * covers every group');
  t.ok(can(az, bob, READ, TOPIC, 'public'), 'User:* covers bob');
  t.notOk(can(az, bob, READ, GROUP, 'any-group'), 'a * resource is still only for its principal');
});

t.test('a matching DENY overrides every ALLOW, whatever pattern each uses', async (t) => {
  const { az } = authorizer([
    acl(TOPIC, '*', LITERAL, 'User:*', ALL, ALLOW),
    acl(TOPIC, 'secret.', PREFIXED, 'User:alice', READ, DENY),
    acl(TOPIC, 'orders', LITERAL, 'User:*', WRITE, DENY, '10.0.0.1'),
  ]);
  t.ok(can(az, alice, READ, TOPIC, 'orders'), 'ALL on * allows READ');
  t.notOk(can(az, alice, READ, TOPIC, 'secret.keys'), 'the prefixed DENY wins over the wildcard ALLOW');
  t.ok(can(az, bob, READ, TOPIC, 'secret.keys'), 'the DENY names alice only');
  t.notOk(can(az, alice, WRITE, TOPIC, 'orders'), 'a DENY from alice\'s host');
  t.ok(can(az, bob, WRITE, TOPIC, 'orders'), 'does not apply to another host');
});

t.test('implied operations: READ/WRITE/DELETE/ALTER allow DESCRIBE, ALTER_CONFIGS allows DESCRIBE_CONFIGS — ALLOW only', async (t) => {
  const { az } = authorizer([
    acl(TOPIC, 'r', LITERAL, 'User:alice', READ, ALLOW),
    acl(TOPIC, 'd', LITERAL, 'User:alice', DELETE, ALLOW),
    acl(TOPIC, 'c', LITERAL, 'User:alice', ALTER_CONFIGS, ALLOW),
    acl(TOPIC, 'x', LITERAL, 'User:alice', DESCRIBE, ALLOW),
    acl(TOPIC, 'x', LITERAL, 'User:alice', READ, DENY),
    acl(TOPIC, 'w', LITERAL, 'User:alice', CREATE, ALLOW),
  ]);
  t.ok(can(az, alice, DESCRIBE, TOPIC, 'r'), 'READ implies DESCRIBE');
  t.ok(can(az, alice, DESCRIBE, TOPIC, 'd'), 'DELETE implies DESCRIBE');
  t.ok(can(az, alice, DESCRIBE_CONFIGS, TOPIC, 'c'), 'ALTER_CONFIGS implies DESCRIBE_CONFIGS');
  t.notOk(can(az, alice, DESCRIBE, TOPIC, 'c'), 'ALTER_CONFIGS does not imply DESCRIBE');
  t.notOk(can(az, alice, DESCRIBE, TOPIC, 'w'), 'CREATE does not imply DESCRIBE');
  t.ok(can(az, alice, DESCRIBE, TOPIC, 'x'), 'a DENY of READ does not deny DESCRIBE');
  t.notOk(can(az, alice, READ, TOPIC, 'x'), 'but denies READ');
});

t.test('super users pass every check, DENYs included', async (t) => {
  const { az, logged } = authorizer([acl(CLUSTER, 'kafka-cluster', LITERAL, 'User:*', ALL, DENY)], { superUsers: parseSuperUsers(' User:alice ; User:broker;') });
  t.ok(can(az, alice, ALTER_CONFIGS, CLUSTER, 'kafka-cluster'), 'alice is a super user');
  t.notOk(can(az, bob, DESCRIBE, CLUSTER, 'kafka-cluster'), 'bob is not');
  t.same(logged.map((l) => [l.level, l.obj.principal, l.obj.operation, l.obj.resource]), [['info', 'User:bob', 'DESCRIBE', 'CLUSTER:LITERAL:kafka-cluster']], 'the denial is logged at info with principal, operation and resource');
  t.match(logged[0].msg, /Principal = User:bob is Denied operation = DESCRIBE from host = 10\.0\.0\.2 on resource = CLUSTER:LITERAL:kafka-cluster/);
});

t.test('allow.everyone.if.no.acl.found opens only resources without any ACL', async (t) => {
  const { az } = authorizer([acl(TOPIC, 'guarded', LITERAL, 'User:alice', READ, ALLOW)], { allowEveryoneIfNoAclFound: true });
  t.ok(can(az, bob, WRITE, TOPIC, 'open'), 'a topic nobody wrote an ACL for is open');
  t.notOk(can(az, bob, READ, TOPIC, 'guarded'), 'a topic with an ACL for someone else is not');
  t.ok(can(az, alice, READ, TOPIC, 'guarded'), 'alice reads it');
  const closed = authorizer([]).az;
  t.notOk(can(closed, bob, WRITE, TOPIC, 'open'), 'false (the default) denies it');
});

t.test('ACL changes apply to the next check', async (t) => {
  // The store replaces its array at each change; the authorizer re-indexes when it sees a new one.
  let stored: AclBinding[] = [];
  const az = new AclAuthorizer(() => stored, { superUsers: new Set(), allowEveryoneIfNoAclFound: false }, { info: () => undefined, debug: () => undefined });
  t.notOk(can(az, alice, READ, TOPIC, 'late'));
  stored = [acl(TOPIC, 'late', LITERAL, 'User:alice', READ, ALLOW)];
  t.ok(can(az, alice, READ, TOPIC, 'late'), 'an added ACL');
  stored = [];
  t.notOk(can(az, alice, READ, TOPIC, 'late'), 'a removed one');
});

t.test('authorizeByResourceType: an ALLOW on some topic not dominated by a DENY (idempotent producers)', async (t) => {
  t.notOk(authorizer([]).az.authorizeByResourceType(alice, WRITE, TOPIC), 'no ACL: no');
  t.ok(authorizer([acl(TOPIC, 'a', LITERAL, 'User:alice', WRITE, ALLOW)]).az.authorizeByResourceType(alice, WRITE, TOPIC), 'a literal ALLOW');
  t.notOk(
    authorizer([acl(TOPIC, 'abc', LITERAL, 'User:alice', WRITE, ALLOW), acl(TOPIC, 'ab', PREFIXED, 'User:alice', WRITE, DENY)]).az.authorizeByResourceType(alice, WRITE, TOPIC),
    'a prefix DENY covering the only ALLOW',
  );
  t.notOk(authorizer([acl(TOPIC, 'a', LITERAL, 'User:alice', WRITE, ALLOW), acl(TOPIC, '*', LITERAL, 'User:*', WRITE, DENY)]).az.authorizeByResourceType(alice, WRITE, TOPIC), 'a wildcard DENY');
  t.ok(authorizer([], { superUsers: new Set(['User:alice']) }).az.authorizeByResourceType(alice, WRITE, TOPIC), 'a super user');
});

t.test('authorizedOperations: the bitfield Metadata and DescribeGroups report', async (t) => {
  const { az } = authorizer([acl(TOPIC, 't', LITERAL, 'User:alice', READ, ALLOW)]);
  t.equal(az.authorizedOperations(alice, TOPIC, 't'), (1 << READ) | (1 << DESCRIBE));
});

t.test('filters: ANY and MATCH pattern types, null fields, and what a new ACL must look like', async (t) => {
  const prefixed = acl(TOPIC, 'pay.', PREFIXED, 'User:alice', READ, ALLOW);
  const wildcard = acl(TOPIC, '*', LITERAL, 'User:bob', WRITE, DENY);
  const any = { resourceType: ResourceType.ANY, resourceName: null, patternType: PatternType.ANY, principal: null, host: null, operation: AclOperation.ANY, permissionType: AclPermissionType.ANY };
  t.ok(filterMatches(any, prefixed) && filterMatches(any, wildcard), 'the match-all filter');
  const match = { ...any, resourceType: TOPIC, resourceName: 'pay.eu', patternType: PatternType.MATCH };
  t.ok(filterMatches(match, prefixed) && filterMatches(match, wildcard), 'MATCH finds every ACL that applies to pay.eu');
  t.notOk(filterMatches({ ...any, resourceName: 'pay.eu' }, prefixed), 'ANY with a name needs that exact name');
  t.notOk(filterMatches({ ...any, patternType: LITERAL }, prefixed), 'LITERAL leaves out prefixed ACLs');
  t.notOk(filterMatches({ ...any, principal: 'User:alice' }, wildcard));
  t.equal(bindingProblem(prefixed), null);
  t.match(bindingProblem({ ...prefixed, resourceType: CLUSTER }), /only valid name for the CLUSTER resource is kafka-cluster/);
  t.match(bindingProblem({ ...prefixed, patternType: PatternType.MATCH }), /Invalid patternType MATCH/);
  t.match(bindingProblem({ ...prefixed, operation: AclOperation.ANY }), /Invalid operation ANY/);
  t.match(bindingProblem({ ...prefixed, principal: 'alice' }), /Invalid principal/);
  t.equal(clientAddress('::ffff:127.0.0.1:5050'), '127.0.0.1');
  t.equal(clientAddress('10.1.2.3:9'), '10.1.2.3');
});

t.test('IPv6 client addresses are matched in the form Java\'s getHostAddress() writes them', async (t) => {
  t.equal(clientAddress('::1:5050'), '0:0:0:0:0:0:0:1', 'loopback, uncompressed');
  t.equal(clientAddress('[::1]:5050'), '0:0:0:0:0:0:0:1', 'bracketed');
  t.equal(clientAddress('2001:DB8:0:0:00ab::1:9092'), '2001:db8:0:0:ab:0:0:1', 'lowercase hex, no leading zeros');
  t.equal(clientAddress('fe80::1%eth0:9092'), 'fe80:0:0:0:0:0:0:1%eth0', 'the zone is kept');
  t.equal(clientAddress('::ffff:7f00:1:9092'), '127.0.0.1', 'IPv4-mapped in hex: an IPv4 address, as Java makes it');
  t.equal(clientAddress('::ffff:10.1.2.3:9092'), '10.1.2.3', 'IPv4-mapped dotted');
  t.equal(clientAddress('::10.1.2.3:9092'), '0:0:0:0:0:0:a01:203', 'IPv4-compatible stays IPv6');
  t.equal(clientAddress('1:2:3:4:5:6:7:8:9092'), '1:2:3:4:5:6:7:8', 'already full');
  const { az } = authorizer([acl(TOPIC, 'orders', LITERAL, 'User:alice', READ, ALLOW, '0:0:0:0:0:0:0:1')]);
  const local = { ...alice, host: clientAddress('[::1]:40000') };
  t.ok(can(az, local, READ, TOPIC, 'orders'), 'an ACL for host 0:0:0:0:0:0:0:1 matches a client on ::1');
  const { az: compressed } = authorizer([acl(TOPIC, 'orders', LITERAL, 'User:alice', READ, ALLOW, '::1')]);
  t.notOk(can(compressed, local, READ, TOPIC, 'orders'), 'an ACL written ::1 does not, as in Kafka');
});

t.test('authorizer.class.name: Kafka\'s ACL authorizers are accepted, any other class refuses to start', async (t) => {
  for (const name of ['org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'kafka.security.authorizer.AclAuthorizer', '']) {
    t.doesNotThrow(() => new BrokerConfig({ env: {}, overrides: { 'authorizer.class.name': name } }), `${name || '(empty)'} is accepted`);
  }
  t.throws(() => new BrokerConfig({ env: {}, overrides: { 'authorizer.class.name': 'com.example.OpaAuthorizer' } }), /authorizer\.class\.name.*not implemented by Spool/);
  t.throws(() => new BrokerConfig({ env: {}, overrides: { 'super.users': 'admin' } }), /super\.users.*not a principal/);
});
