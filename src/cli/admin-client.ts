// cli/ room: the Kafka client behind `spool topic|group|produce|consume` — the project's own
// codec (protocol/) over its broker connection (network/client.ts). It works against any Kafka
// broker: every connection negotiates versions with ApiVersions and each request is sent at the
// highest version both sides speak. Broker errors become BrokerError (Kafka's name + a message).
import { BrokerConnection } from '../network/client.js';
import {
  apis,
  errorName,
  ErrorCode,
  type DecodedResponseFor,
  type KnownApiKey,
  type RequestInputFor,
} from '../protocol/index.js';

export type ApiName = keyof typeof apis;
type KeyOf<N extends ApiName> = (typeof apis)[N]['request']['apiKey'];
export type RequestBody<N extends ApiName> = RequestInputFor<KeyOf<N>>;
export type ResponseBody<N extends ApiName> = DecodedResponseFor<KeyOf<N>>;

/**
 * Highest version the CLI sends, below what the codec covers: Produce and Fetch v13+ name
 * topics by id, which the CLI does not track; v12 is served by every Kafka 3.x/4.x broker.
 */
const VERSION_CAP: Partial<Record<ApiName, number>> = { Produce: 12, Fetch: 12 };

/** A usage or operator error: printed as one line, exit code 1. */
export class CliError extends Error {}

/** Kafka's short description of the codes the CLI is most likely to see (as its exception messages). */
const DESCRIPTIONS: Partial<Record<number, string>> = {
  [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]: 'This server does not host this topic-partition.',
  [ErrorCode.TOPIC_ALREADY_EXISTS]: 'Topic already exists.',
  [ErrorCode.INVALID_PARTITIONS]: 'Number of partitions is invalid.',
  [ErrorCode.INVALID_REPLICATION_FACTOR]: 'Replication factor is invalid.',
  [ErrorCode.INVALID_CONFIG]: 'Configuration is invalid.',
  [ErrorCode.INVALID_TOPIC_EXCEPTION]: 'The request attempted to perform an operation on an invalid topic.',
  [ErrorCode.GROUP_ID_NOT_FOUND]: 'The group id does not exist.',
  [ErrorCode.NON_EMPTY_GROUP]: 'The group is not empty.',
  [ErrorCode.COORDINATOR_NOT_AVAILABLE]: 'The coordinator is not available.',
  [ErrorCode.NOT_COORDINATOR]: 'This is not the correct coordinator.',
  [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS]: 'The coordinator is loading and hence can\'t process requests.',
  [ErrorCode.LEADER_NOT_AVAILABLE]: 'There is no leader for this topic-partition as we are in the middle of a leadership election.',
  [ErrorCode.NOT_LEADER_OR_FOLLOWER]: 'For requests intended only for the leader, this error indicates that the broker is not the current leader.',
  [ErrorCode.OFFSET_OUT_OF_RANGE]: 'The requested offset is not within the range of offsets maintained by the server.',
  [ErrorCode.MESSAGE_TOO_LARGE]: 'The request included a message larger than the max message size the server will accept.',
  [ErrorCode.NOT_ENOUGH_REPLICAS]: 'Messages are rejected since there are fewer in-sync replicas than required.',
  [ErrorCode.REQUEST_TIMED_OUT]: 'The request timed out.',
  [ErrorCode.TOPIC_DELETION_DISABLED]: 'Topic deletion is disabled.',
  [ErrorCode.UNKNOWN_MEMBER_ID]: 'The coordinator is not aware of this member.',
  [ErrorCode.ILLEGAL_GENERATION]: 'Specified group generation id is not valid.',
  [ErrorCode.REBALANCE_IN_PROGRESS]: 'The group is rebalancing, so a rejoin is needed.',
  [ErrorCode.INVALID_REQUIRED_ACKS]: 'Produce request specified an invalid value for required acks.',
  [ErrorCode.UNSUPPORTED_VERSION]: 'The version of API is not supported.',
  [ErrorCode.POLICY_VIOLATION]: 'Request parameters do not satisfy the configured policy.',
  [ErrorCode.INVALID_REQUEST]: 'This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker.',
};

/** An error code a broker answered with. */
export class BrokerError extends Error {
  constructor(
    readonly code: number,
    detail: string | null | undefined,
    readonly context = '',
  ) {
    const text = detail !== null && detail !== undefined && detail !== '' ? detail : DESCRIPTIONS[code] ?? 'The broker answered with this error.';
    super(`${errorName(code)}: ${context !== '' ? `${context}: ` : ''}${text}`);
    this.name = 'BrokerError';
  }

  get errorName(): string {
    return errorName(this.code);
  }
}

/** Throws BrokerError when `errorCode` is not NONE. */
export function check(errorCode: number, message?: string | null, context = ''): void {
  if (errorCode !== ErrorCode.NONE) throw new BrokerError(errorCode, message, context);
}

export const RETRIABLE = new Set<number>([
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.NOT_CONTROLLER,
]);

const COORDINATOR_ERRORS = new Set<number>([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE]);

export interface HostPort {
  host: string;
  port: number;
}

/** `host:port[,host:port…]`; IPv6 hosts in brackets. */
export function parseBootstrap(text: string): HostPort[] {
  const out: HostPort[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(item);
    if (!m || Number(m[2]) > 65535) throw new CliError(`--bootstrap-server: "${item}" is not host:port`);
    out.push({ host: m[1].startsWith('[') ? m[1].slice(1, -1) : m[1], port: Number(m[2]) });
  }
  if (out.length === 0) throw new CliError('--bootstrap-server: no host:port given');
  return out;
}

interface Conn {
  conn: BrokerConnection;
  versions: Map<number, { min: number; max: number }>;
  address: string;
  hp: HostPort;
}

export interface MetadataPartition {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offline: number[];
  errorCode: number;
}

export interface MetadataTopic {
  name: string;
  topicId: string;
  isInternal: boolean;
  errorCode: number;
  partitions: MetadataPartition[];
}

export interface ClusterMetadata {
  brokers: Map<number, HostPort & { rack: string | null }>;
  controllerId: number;
  clusterId: string | null;
  topics: MetadataTopic[];
}

export interface ClientOptions {
  clientId?: string;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** The Kafka client of the CLI: one connection per broker, opened on first use. */
export class KafkaClient {
  private readonly conns = new Map<number, Conn>();
  private brokers = new Map<number, HostPort>();
  private readonly clientId: string;
  readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  private constructor(
    private bootstrap: Conn,
    opts: ClientOptions,
  ) {
    this.clientId = opts.clientId ?? 'spool-cli';
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  }

  /** Connects to the first bootstrap address that answers ApiVersions. */
  static async connect(bootstrap: string, opts: ClientOptions = {}): Promise<KafkaClient> {
    const failures: string[] = [];
    for (const hp of parseBootstrap(bootstrap)) {
      try {
        const conn = await openConn(hp, opts.clientId ?? 'spool-cli', opts.connectTimeoutMs ?? 10_000, opts.requestTimeoutMs ?? 30_000);
        return new KafkaClient(conn, opts);
      } catch (err) {
        failures.push(`${hp.host}:${hp.port} (${describeNetError(err)})`);
      }
    }
    throw new CliError(`cannot connect to ${failures.join(', ')}; is a broker running there? (--bootstrap-server)`);
  }

  /** The version of `api` this CLI and the broker behind `node` both speak. */
  private version(c: Conn, api: ApiName): number {
    const def = apis[api];
    const theirs = c.versions.get(def.request.apiKey);
    const ourMax = Math.min(def.maxVersion, VERSION_CAP[api] ?? Infinity);
    if (theirs === undefined) throw new CliError(`the broker at ${c.address} does not support ${api}`);
    const v = Math.min(ourMax, theirs.max);
    if (v < Math.max(def.minVersion, theirs.min)) {
      throw new CliError(`the broker at ${c.address} speaks ${api} v${theirs.min}-${theirs.max}; this CLI speaks v${def.minVersion}-${ourMax}`);
    }
    return v;
  }

  private async connFor(node: number | null): Promise<Conn> {
    if (node === null) {
      if (!this.bootstrap.conn.isOpen) this.bootstrap = await openConn(this.bootstrap.hp, this.clientId, this.connectTimeoutMs, this.requestTimeoutMs);
      return this.bootstrap;
    }
    const existing = this.conns.get(node);
    if (existing?.conn.isOpen === true) return existing;
    let hp = this.brokers.get(node);
    if (hp === undefined) {
      await this.metadata([]);
      hp = this.brokers.get(node);
    }
    if (hp === undefined) throw new CliError(`broker ${node} is not in the cluster metadata`);
    const c = await openConn(hp, this.clientId, this.connectTimeoutMs, this.requestTimeoutMs);
    this.conns.set(node, c);
    return c;
  }

  /**
   * Sends `api` to broker `node` (null: the bootstrap broker) at the negotiated version; `build`
   * makes the body for that version.
   */
  async send<N extends ApiName>(node: number | null, api: N, build: (version: number) => RequestBody<N>, timeoutMs = this.requestTimeoutMs): Promise<{ version: number; res: ResponseBody<N> }> {
    const c = await this.connFor(node);
    const version = this.version(c, api);
    const key: KnownApiKey = apis[api].request.apiKey;
    try {
      const res = await c.conn.request(key, version, build(version), timeoutMs);
      return { version, res: res as ResponseBody<N> };
    } catch (err) {
      if (err instanceof CliError || err instanceof BrokerError) throw err;
      throw new CliError(`${api} to ${c.address} failed: ${describeNetError(err)}`);
    }
  }

  /**
   * Fire-and-forget (acks=0 produce): the broker sends no answer. The request is written on the
   * connection; a later round trip on the same connection shows it was read.
   */
  async sendNoResponse<N extends ApiName>(node: number | null, api: N, build: (version: number) => RequestBody<N>): Promise<void> {
    const c = await this.connFor(node);
    const version = this.version(c, api);
    const key: KnownApiKey = apis[api].request.apiKey;
    // The pending entry is dropped when the connection closes; its rejection is expected.
    c.conn.request(key, version, build(version) as never, 24 * 3600_000).catch(() => undefined);
    await Promise.resolve();
  }

  /** Metadata for `topics` (null: every topic). */
  async metadata(topics: string[] | null, allowAutoTopicCreation = false): Promise<ClusterMetadata> {
    const { version, res } = await this.send(null, 'Metadata', (v) => ({
      topics: topics === null ? (v >= 1 ? null : []) : topics.map((name) => ({ name })),
      allowAutoTopicCreation,
    }));
    if (version >= 13) check(res.errorCode, null, 'metadata');
    const brokers = new Map<number, HostPort & { rack: string | null }>();
    for (const b of res.brokers) brokers.set(b.nodeId, { host: b.host, port: b.port, rack: b.rack });
    this.brokers = brokers;
    return {
      brokers,
      controllerId: res.controllerId,
      clusterId: res.clusterId,
      topics: res.topics.map((t) => ({
        name: t.name ?? '',
        topicId: t.topicId,
        isInternal: t.isInternal,
        errorCode: t.errorCode,
        partitions: t.partitions
          .map((p) => ({
            partition: p.partitionIndex,
            leader: p.leaderId,
            leaderEpoch: p.leaderEpoch,
            replicas: p.replicaNodes,
            isr: p.isrNodes,
            offline: p.offlineReplicas,
            errorCode: p.errorCode,
          }))
          .sort((a, b) => a.partition - b.partition),
      })),
    };
  }

  /** Metadata of one topic; throws BrokerError when it does not exist. */
  async topic(name: string, allowAutoTopicCreation = false): Promise<MetadataTopic> {
    // Bounded: a just-created topic may show LEADER_NOT_AVAILABLE for a moment.
    for (let attempt = 0; ; attempt++) {
      const md = await this.metadata([name], allowAutoTopicCreation);
      const t = md.topics.find((x) => x.name === name);
      if (t === undefined) throw new BrokerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`);
      const leaderless = t.errorCode === ErrorCode.NONE && t.partitions.some((p) => p.leader < 0);
      // A missing topic is final unless the broker may be creating it for this request.
      const retriable = t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ? allowAutoTopicCreation : RETRIABLE.has(t.errorCode);
      if ((t.errorCode === ErrorCode.NONE && !leaderless) || attempt >= 20 || !(retriable || leaderless)) {
        if (t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw new BrokerError(t.errorCode, `Topic '${name}' does not exist.`);
        check(t.errorCode, null, `topic ${name}`);
        return t;
      }
      await sleep(250);
    }
  }

  /** The coordinator of group `groupId`, retried while it loads. */
  async groupCoordinator(groupId: string): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const { version, res } = await this.send(null, 'FindCoordinator', (v) => (v >= 4 ? { keyType: 0, coordinatorKeys: [groupId] } : { key: groupId, keyType: 0 }));
      let errorCode: number;
      let message: string | null;
      let nodeId: number;
      let host: string;
      let port: number;
      if (version >= 4) {
        const c = res.coordinators.at(0);
        if (c === undefined) throw new CliError(`FindCoordinator answered no coordinator for group ${groupId}`);
        ({ errorCode, errorMessage: message, nodeId, host, port } = c);
      } else {
        ({ errorCode, errorMessage: message, nodeId, host, port } = res);
      }
      if (errorCode === ErrorCode.NONE) {
        this.brokers.set(nodeId, { host, port });
        return nodeId;
      }
      if (!RETRIABLE.has(errorCode) || attempt >= 20) check(errorCode, message, `group ${groupId}`);
      await sleep(250);
    }
  }

  /**
   * Runs `fn` against the coordinator of `groupId`; when the coordinator moved or is loading
   * (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE: a fresh Kafka
   * creates __consumer_offsets on first use), finds it again and retries, a bounded number of times.
   */
  async withCoordinator<T>(groupId: string, fn: (coordinator: number) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const coordinator = await this.groupCoordinator(groupId);
      try {
        return await fn(coordinator);
      } catch (err) {
        if (!(err instanceof BrokerError) || !COORDINATOR_ERRORS.has(err.code) || attempt >= 20) throw err;
      }
      await sleep(250);
    }
  }

  close(): void {
    this.bootstrap.conn.close();
    for (const c of this.conns.values()) c.conn.close();
  }
}

async function openConn(hp: HostPort, clientId: string, connectTimeoutMs: number, requestTimeoutMs: number): Promise<Conn> {
  const conn = await BrokerConnection.open({ host: hp.host, port: hp.port, clientId, maxResponseBytes: 256 * 1024 * 1024, connectTimeoutMs });
  const address = `${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${hp.port}`;
  try {
    const res = await conn.request(apis.ApiVersions.request.apiKey, 3, { clientSoftwareName: 'spool-cli', clientSoftwareVersion: '1' }, requestTimeoutMs);
    check(res.errorCode, null, `ApiVersions from ${address}`);
    const versions = new Map<number, { min: number; max: number }>();
    for (const k of res.apiKeys) versions.set(k.apiKey, { min: k.minVersion, max: k.maxVersion });
    return { conn, versions, address, hp };
  } catch (err) {
    conn.close();
    throw err;
  }
}

/** A socket error as one short phrase: "ECONNREFUSED", "timed out after 10000 ms", … */
export function describeNetError(err: unknown): string {
  if (err instanceof BrokerError || err instanceof CliError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code === 'string') return e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'ENOTFOUND' ? 'host not found' : e.code;
  return err instanceof Error ? err.message : String(err);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
