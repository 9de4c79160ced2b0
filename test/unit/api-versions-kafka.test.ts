// api/ room: the version ranges Spool's ApiVersions advertises follow Apache Kafka 4.4's stable
// ranges. Kafka's message definitions (common/message/*Request.json, with validVersions and
// latestVersionUnstable) are read at run time from kafka-clients-4.4.0.jar, which
// scripts/setup-interop.sh (run by `npm install`) puts in .cache/kafka-jars/. Where Spool stays
// below Kafka on purpose, the exception is listed below with the reason.
// Also: ApiVersions v5's ClusterId/NodeId check (KIP-1242).
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/errors.js';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../src/protocol/messages/api-versions.js';
import { DeleteGroupsRequest, DeleteGroupsResponse } from '../../src/protocol/messages/delete-groups.js';
import { DescribeLogDirsRequest, DescribeLogDirsResponse } from '../../src/protocol/messages/describe-log-dirs.js';
import { FindCoordinatorRequest, FindCoordinatorResponse } from '../../src/protocol/messages/find-coordinator.js';
import { ListOffsetsRequest, ListOffsetsResponse } from '../../src/protocol/messages/list-offsets.js';
import { RawClient, tempDir } from '../helpers/broker.js';
import { kafkaJarsDir } from '../interop/kafka-tools.js';

const KAFKA_VERSION = '4.4.0';
const JAR = `kafka-clients-${KAFKA_VERSION}.jar`;

/**
 * APIs whose advertised max version Spool keeps below Kafka 4.4's stable max, with the version it
 * advertises. The test fails when Spool moves (update the entry) or Kafka's max equals it (drop it).
 */
const MAX_EXCEPTIONS: Partial<Record<string, { spool: number; why: string }>> = {
  // v10 (KIP-848) replaces topic names by topic ids in requests and responses; Spool's group
  // coordinator stores and answers committed offsets by topic name, and the clients of the
  // classic group protocol (KafkaJS, librdkafka, franz-go, the Java client) all commit by name.
  OffsetCommit: { spool: 9, why: 'v10 is topic ids only (KIP-848)' },
  OffsetFetch: { spool: 9, why: 'v10 is topic ids only (KIP-848)' },
  // v6 (KIP-1319) likewise moves transactional offset commits to topic ids.
  TxnOffsetCommit: { spool: 5, why: 'v6 is topic ids only (KIP-1319)' },
};

/** APIs whose advertised min version differs from Kafka 4.4's, with Spool's. */
const MIN_EXCEPTIONS: Partial<Record<string, { spool: number; why: string }>> = {
  // KAFKA-18659: librdkafka needs Produce advertised from v0 (v0-2 requests are still refused).
  Produce: { spool: 0, why: 'KAFKA-18659' },
  // Inter-broker only; Spool's own brokers still speak v0, which Kafka 4 dropped.
  WriteTxnMarkers: { spool: 0, why: 'inter-broker, Spool brokers accept v0' },
};

interface KafkaApi {
  name: string;
  min: number;
  stableMax: number;
}

/** The stored/deflated entries of a zip file whose names match `want`. */
function readZipEntries(zip: Buffer, want: (name: string) => boolean): Map<string, Buffer> {
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('not a zip file: no end of central directory');
  const entries = zip.readUInt16LE(eocd + 10);
  let pos = zip.readUInt32LE(eocd + 16);
  const out = new Map<string, Buffer>();
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(pos) !== 0x02014b50) throw new Error(`bad central directory entry at ${pos}`);
    const method = zip.readUInt16LE(pos + 10);
    const compressedSize = zip.readUInt32LE(pos + 20);
    const nameLen = zip.readUInt16LE(pos + 28);
    const extraLen = zip.readUInt16LE(pos + 30);
    const commentLen = zip.readUInt16LE(pos + 32);
    const local = zip.readUInt32LE(pos + 42);
    const name = zip.toString('utf8', pos + 46, pos + 46 + nameLen);
    pos += 46 + nameLen + extraLen + commentLen;
    if (!want(name)) continue;
    const dataStart = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    if (method === 0) out.set(name, Buffer.from(data));
    else if (method === 8) out.set(name, inflateRawSync(data));
    else throw new Error(`${name}: unsupported zip method ${method}`);
  }
  return out;
}

function findJar(dir: string): string | null {
  if (!existsSync(dir)) return null;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isFile() && e.name === JAR) return p;
    if (e.isDirectory()) {
      const found = findJar(p);
      if (found !== null) return found;
    }
  }
  return null;
}

/** Kafka's request definitions by API key: name without "Request", min and stable max version. */
function kafkaApis(jar: string): Map<number, KafkaApi> {
  const files = readZipEntries(readFileSync(jar), (n) => /^common\/message\/[A-Za-z]+Request\.json$/.test(n));
  const apis = new Map<number, KafkaApi>();
  for (const [name, body] of files) {
    // The definitions carry // comments (Kafka's generator strips them too).
    const def = JSON.parse(body.toString('utf8').replace(/^\s*\/\/.*$/gm, '')) as {
      apiKey: number;
      name: string;
      validVersions: string;
      latestVersionUnstable?: boolean;
    };
    // "none": an API Kafka removed (ControlledShutdown, LeaderAndIsr, ...).
    if (def.validVersions === 'none') continue;
    const [lo, hi = lo] = def.validVersions.split('-').map(Number);
    if (!Number.isInteger(lo) || !Number.isInteger(hi)) throw new Error(`${name}: validVersions ${def.validVersions}`);
    apis.set(def.apiKey, { name: def.name.replace(/Request$/, ''), min: lo, stableMax: def.latestVersionUnstable === true ? hi - 1 : hi });
  }
  return apis;
}

const jar = findJar(kafkaJarsDir);
const dataDir = tempDir('spool-apiversions-');
let running: RunningBroker | undefined;
t.teardown(async () => {
  await running?.stop();
  dataDir.cleanup();
});

async function broker(): Promise<RunningBroker> {
  running ??= await startBroker({ dataDir: dataDir.dir, port: 0, host: '127.0.0.1', engine: 'ts' });
  return running;
}

async function apiVersions(version: number, body: Record<string, unknown>): Promise<ReturnType<typeof ApiVersionsResponse.decodeBuffer>> {
  const client = await RawClient.connect((await broker()).port);
  try {
    return await client.request(18, version, ApiVersionsRequest, ApiVersionsResponse, {
      clientSoftwareName: 'spool-test',
      clientSoftwareVersion: '1.0',
      ...body,
    });
  } finally {
    client.close();
  }
}

t.test(`advertised version ranges follow Kafka ${KAFKA_VERSION}'s stable ranges`, async (t) => {
  if (jar === null) {
    const reason = `${JAR} not found under ${kafkaJarsDir}`;
    if (process.env.CI === 'true') {
      t.fail(`${reason} (CI=true: run bash scripts/setup-interop.sh; npm install runs it unless SPOOL_SKIP_TOOLCHAINS=1)`);
    } else {
      t.comment(`skipping: ${reason}; run bash scripts/setup-interop.sh`);
      t.plan(0, reason);
    }
    return;
  }
  const kafka = kafkaApis(jar);
  t.ok(kafka.size > 80, `${JAR} holds the request definitions (${kafka.size})`);
  const res = await apiVersions(4, {});
  t.equal(res.errorCode, ErrorCode.NONE, 'ApiVersions v4 answers');
  t.ok(res.apiKeys.length > 30, `Spool advertises ${res.apiKeys.length} APIs`);
  const seen = new Set<string>();
  for (const a of res.apiKeys) {
    const k = kafka.get(a.apiKey);
    if (k === undefined) {
      t.fail(`api key ${a.apiKey} is advertised but is not in Kafka ${KAFKA_VERSION}`);
      continue;
    }
    seen.add(k.name);
    const maxException = MAX_EXCEPTIONS[k.name];
    if (maxException !== undefined) {
      t.equal(a.maxVersion, maxException.spool, `${k.name}: max v${maxException.spool} (kept below Kafka's v${k.stableMax}: ${maxException.why})`);
      t.ok(maxException.spool < k.stableMax, `${k.name}: the exception is still needed (Kafka's stable max is v${k.stableMax})`);
    } else {
      t.equal(a.maxVersion, k.stableMax, `${k.name}: max v${a.maxVersion} is Kafka's stable max`);
    }
    const minException = MIN_EXCEPTIONS[k.name];
    if (minException !== undefined) {
      t.equal(a.minVersion, minException.spool, `${k.name}: min v${minException.spool} (${minException.why}; Kafka's min is v${k.min})`);
    } else {
      t.equal(a.minVersion, k.min, `${k.name}: min v${a.minVersion} is Kafka's min`);
    }
  }
  for (const name of [...Object.keys(MAX_EXCEPTIONS), ...Object.keys(MIN_EXCEPTIONS)]) {
    t.ok(seen.has(name), `exception ${name} names an API Spool advertises`);
  }
});

t.test('ApiVersions v5 checks the cluster id and node id a client names (KIP-1242)', async (t) => {
  t.equal((await apiVersions(5, {})).errorCode, ErrorCode.NONE, 'neither given: answered');
  const broker = running?.broker;
  if (broker === undefined) throw new Error('broker not started');
  const { clusterId, nodeId } = broker;
  t.equal((await apiVersions(5, { clusterId, nodeId })).errorCode, ErrorCode.NONE, 'this cluster id and node id: answered');
  t.equal((await apiVersions(5, { clusterId, nodeId: nodeId + 1 })).errorCode, ErrorCode.REBOOTSTRAP_REQUIRED, 'this cluster, another node id: REBOOTSTRAP_REQUIRED');
  t.equal((await apiVersions(5, { clusterId: `${clusterId}x`, nodeId })).errorCode, ErrorCode.REBOOTSTRAP_REQUIRED, 'another cluster id: REBOOTSTRAP_REQUIRED');
  t.equal((await apiVersions(5, { clusterId, nodeId: -1 })).errorCode, ErrorCode.INVALID_REQUEST, 'cluster id without node id: INVALID_REQUEST');
  t.equal((await apiVersions(5, { clusterId: null, nodeId })).errorCode, ErrorCode.INVALID_REQUEST, 'node id without cluster id: INVALID_REQUEST');
  t.equal((await apiVersions(4, { clusterId: 'another', nodeId })).errorCode, ErrorCode.NONE, 'v4 carries no such fields: answered');
});

t.test('the versions raised for Kafka 4.4 answer what they add', async (t) => {
  const b = await broker();
  await b.broker.createTopic('raised', 1);
  const client = await RawClient.connect(b.port);
  t.teardown(() => client.close());

  type ListOffsetsRes = ReturnType<typeof ListOffsetsResponse.decodeBuffer>;
  const listOffsets = (version: number, timestamp: number): Promise<ListOffsetsRes> =>
    client.request(2, version, ListOffsetsRequest, ListOffsetsResponse, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: 'raised', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }],
      timeoutMs: 5000,
    });
  const pending = (await listOffsets(11, -6)).topics[0]?.partitions[0];
  t.match(
    pending,
    { errorCode: ErrorCode.NONE, offset: -1, timestamp: -1, leaderEpoch: -1 },
    'ListOffsets v11, earliest pending upload (-6): no remote storage, so no offset (as Kafka without tiered storage)',
  );
  t.equal((await listOffsets(11, -1)).topics[0]?.partitions[0]?.offset, 0, 'ListOffsets v11 latest: 0 on an empty partition');

  // The group coordinator comes up with the first FindCoordinator (which creates __consumer_offsets).
  type FindCoordinatorRes = ReturnType<typeof FindCoordinatorResponse.decodeBuffer>;
  type DeleteGroupsRes = ReturnType<typeof DeleteGroupsResponse.decodeBuffer>;
  const notYet = new Set<number>([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS]);
  let deleted: DeleteGroupsRes['results'][number] | undefined;
  for (let attempt = 0; attempt < 50; attempt++) {
    await client.request<FindCoordinatorRes>(10, 4, FindCoordinatorRequest, FindCoordinatorResponse, { keyType: 0, coordinatorKeys: ['no-such-group'] });
    const v3 = await client.request<DeleteGroupsRes>(42, 3, DeleteGroupsRequest, DeleteGroupsResponse, { groupsNames: ['no-such-group'] });
    deleted = v3.results.at(0);
    if (deleted === undefined || !notYet.has(deleted.errorCode)) break;
    t.equal(typeof deleted.errorMessage, 'string', `DeleteGroups v3 names the cause of error ${deleted.errorCode} too`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  t.equal(deleted?.errorCode, ErrorCode.GROUP_ID_NOT_FOUND, 'DeleteGroups v3: unknown group');
  t.equal(deleted?.errorMessage, 'The group id does not exist.', 'DeleteGroups v3 says why');
  const v2 = await client.request<DeleteGroupsRes>(42, 2, DeleteGroupsRequest, DeleteGroupsResponse, { groupsNames: ['no-such-group'] });
  t.equal(v2.results[0]?.errorMessage, null, 'DeleteGroups v2 carries no message');

  type LogDirsRes = ReturnType<typeof DescribeLogDirsResponse.decodeBuffer>;
  const dirs = await client.request<LogDirsRes>(35, 5, DescribeLogDirsRequest, DescribeLogDirsResponse, { topics: null });
  t.equal(dirs.results.length, 1, 'DescribeLogDirs v5: the one log dir');
  t.equal(dirs.results[0]?.isCordoned, false, 'DescribeLogDirs v5: not cordoned (Spool never cordons its dir)');
  t.ok(dirs.results[0]?.topics.some((x) => x.name === 'raised'), 'DescribeLogDirs v5 lists the topic');
});
