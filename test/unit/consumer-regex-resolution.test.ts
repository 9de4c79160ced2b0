// coordinator/group room tests: KIP-848 regex subscriptions are resolved per group and pattern
// once per metadata version — a steady heartbeat matches no topic name — while resolution still
// follows topic creation and deletion, and each member's DESCRIBE filter still applies per heartbeat.
import t from 'tap';
import { GroupCoordinator } from '../../src/coordinator/group/coordinator.js';
import type { ConsumerHeartbeatParams, ConsumerHeartbeatResult, TopicsView } from '../../src/coordinator/group/consumer-coordinator.js';
import { compileTopicRegex } from '../../src/coordinator/group/consumer-group.js';
import { GroupErrorCode as E } from '../../src/coordinator/group/errors.js';
import { ManualClock, MemoryOffsetsLog } from '../../src/coordinator/group/memory-log.js';
import { defaultGroupCoordinatorConfig, type GroupLogger } from '../../src/coordinator/group/ports.js';

const silent: GroupLogger = { debug() {}, info() {}, warn() {}, error() {} };
const idOf = (n: number) => Buffer.alloc(16, n).toString('base64url');

/** A topic set with a version that moves on every change (as the metadata image's). */
class Topics implements TopicsView {
  readonly map = new Map<string, { topicId: string; numPartitions: number }>();
  private v = 0;
  private nextId = 1;
  add(name: string, numPartitions: number): this {
    this.map.set(name, { topicId: idOf(this.nextId++), numPartitions });
    this.v++;
    return this;
  }
  remove(name: string): this {
    this.map.delete(name);
    this.v++;
    return this;
  }
  names() {
    return [...this.map.keys()];
  }
  byName(name: string) {
    return this.map.get(name);
  }
  nameOf(topicId: string) {
    for (const [name, x] of this.map) if (x.topicId === topicId) return name;
    return undefined;
  }
  version() {
    return this.v;
  }
}

async function setup(): Promise<GroupCoordinator> {
  const log = new MemoryOffsetsLog(2);
  const coordinator = new GroupCoordinator({ log, numPartitions: log.numPartitions, clock: new ManualClock(), logger: silent, config: { ...defaultGroupCoordinatorConfig, groupInitialRebalanceDelayMs: 0 } });
  const partitions = Array.from({ length: coordinator.numPartitions }, (_, p) => p);
  for (const p of partitions) coordinator.onElection(p, 0);
  await Promise.all(partitions.map((p) => coordinator.awaitLoaded(p, 60_000)));
  return coordinator;
}

/** Counts the matcher's calls for `pattern` (the coordinator gets the same compiled matcher). */
function spyOn(pattern: string): { calls: () => number; restore: () => void } {
  const re = compileTopicRegex(pattern);
  const original = re.matches.bind(re);
  let n = 0;
  re.matches = (input: string) => {
    n++;
    return original(input);
  };
  return { calls: () => n, restore: () => (re.matches = original) };
}

/** A member that heartbeats with its current epoch and adopts what it is given. */
class Member {
  epoch = 0;
  owned = new Map<string, number[]>();
  constructor(
    private readonly coordinator: GroupCoordinator,
    private readonly topics: Topics,
    readonly memberId: string,
    private readonly regex: string,
    public canDescribe: ((topic: string) => boolean) | null = null,
  ) {}
  async beat(): Promise<ConsumerHeartbeatResult> {
    const full = this.epoch === 0;
    const p: ConsumerHeartbeatParams = {
      groupId: 'g',
      memberId: this.memberId,
      memberEpoch: this.epoch,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: full ? 30000 : -1,
      subscribedTopicNames: full ? [] : null,
      subscribedTopicRegex: full ? this.regex : null,
      serverAssignor: null,
      topicPartitions: [...this.owned].map(([topicId, partitions]) => ({ topicId, partitions })),
      clientId: 'c',
      clientHost: '/127.0.0.1',
      topics: this.topics,
      canDescribe: this.canDescribe,
    };
    const r = await this.coordinator.consumerGroupHeartbeat(p);
    if (r.errorCode === E.NONE) {
      this.epoch = r.memberEpoch;
      if (r.assignment !== null) this.owned = new Map(r.assignment.topicPartitions.map((x) => [x.topicId, [...x.partitions]]));
    }
    return r;
  }
  topicNames(): string[] {
    return [...this.owned.keys()].map((id) => this.topics.nameOf(id) ?? id).sort();
  }
}

async function settle(members: Member[], rounds = 4): Promise<void> {
  for (let i = 0; i < rounds; i++) for (const m of members) await m.beat();
}

t.test('a steady heartbeat does no regex work; creation and deletion are still followed', async (t) => {
  const coordinator = await setup();
  t.teardown(() => coordinator.close());
  const pattern = 'cache-orders-.*';
  const spy = spyOn(pattern);
  t.teardown(spy.restore);
  const topics = new Topics().add('cache-orders-eu', 2).add('payments', 1);
  const m = new Member(coordinator, topics, 'a', pattern);
  await settle([m]);
  t.same(m.topicNames(), ['cache-orders-eu'], 'the regex resolves to the matching topic');
  t.ok(spy.calls() > 0, 'the matcher ran for the first resolution');

  const before = spy.calls();
  await settle([m], 5);
  t.equal(spy.calls(), before, 'steady heartbeats at an unchanged topic set do not run the matcher');

  topics.add('cache-orders-us', 2);
  await settle([m]);
  t.same(m.topicNames(), ['cache-orders-eu', 'cache-orders-us'], 'a created matching topic is picked up');
  t.equal(spy.calls() - before, topics.map.size, 'the new topic set is matched once');

  const afterCreate = spy.calls();
  topics.remove('cache-orders-eu');
  await settle([m]);
  t.same(m.topicNames(), ['cache-orders-us'], 'a deleted topic is dropped');
  t.equal(spy.calls() - afterCreate, topics.map.size, 'matched once more after the deletion');
});

t.test('members sharing a regex share its resolution, each filtered by its own DESCRIBE access', async (t) => {
  const coordinator = await setup();
  t.teardown(() => coordinator.close());
  const pattern = 'acl-orders-.*';
  const spy = spyOn(pattern);
  t.teardown(spy.restore);
  const topics = new Topics().add('acl-orders-eu', 1).add('acl-orders-secret', 1).add('other', 1);
  const open = new Member(coordinator, topics, 'open', pattern);
  const limited = new Member(coordinator, topics, 'limited', pattern, (topic) => topic !== 'acl-orders-secret');
  await settle([open, limited]);
  t.equal(spy.calls(), topics.map.size, 'one resolution for both members');
  const [d] = coordinator.describeConsumerGroups(['g'], topics);
  const target = (id: string) => d.members.find((x) => x.memberId === id)?.targetAssignment.topicPartitions.map((tp) => tp.topicName) ?? [];
  t.ok(target('open').length + target('limited').length === 2, 'both matched topics are assigned');
  t.notOk(target('limited').includes('acl-orders-secret'), 'the limited member is not given a topic it may not describe');

  // The member loses access at the same metadata version: its next heartbeat applies it.
  open.canDescribe = (topic) => topic !== 'acl-orders-eu';
  limited.canDescribe = (topic) => topic !== 'acl-orders-eu';
  await settle([open, limited]);
  t.same([...open.topicNames(), ...limited.topicNames()].sort(), ['acl-orders-secret'], 'a changed DESCRIBE filter counts without a metadata change');
  t.equal(spy.calls(), topics.map.size, 'and still without matching again');
});
