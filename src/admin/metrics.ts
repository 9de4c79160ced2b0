// admin/ room: Prometheus metrics of one broker, in its own Registry (several embedded brokers in
// one process never clash). Names follow Kafka's MBeans as the JMX exporter renders them
// (kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec,topic=t →
// kafka_server_brokertopicmetrics_bytesin_total{topic="t"}), and kafka_exporter's for group lag.
// Counters are fed by dispatcher hooks; gauges are computed from live state at scrape time.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Dispatcher, RequestContext } from '../api/index.js';
import { ApiKey, apiName } from '../protocol/index.js';
import type { FetchRequest, FetchResponse } from '../protocol/messages/fetch.js';
import type { ProduceRequest, ProduceResponse } from '../protocol/messages/produce.js';
import type { AdminServices, AdminTarget } from './context.js';
import { groupOffsets } from './groups.js';

/** Cumulative per-topic traffic, as GET /v1/stats reports it. */
export interface TopicTraffic {
  bytesIn: number;
  messagesIn: number;
  bytesOut: number;
}

/** Latency buckets in ms: a local request takes well under 1 ms, a long poll up to maxWaitMs. */
const LATENCY_BUCKETS_MS = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/** Records in a v2 batch sequence: the recordsCount field (byte 57) of each batch. */
function recordCount(batches: Buffer): number {
  let count = 0;
  let pos = 0;
  // Bounded: each step advances by a whole batch (>= 61 bytes) or stops.
  while (pos + 61 <= batches.length) {
    const batchLength = batches.readInt32BE(pos + 8);
    if (batchLength < 49) break;
    count += batches.readInt32BE(pos + 57);
    pos += 12 + batchLength;
  }
  return count;
}

export class BrokerMetrics {
  readonly registry = new Registry();
  private readonly traffic = new Map<string, TopicTraffic>();
  private readonly bytesIn: Counter<'topic'>;
  private readonly messagesIn: Counter<'topic'>;
  private readonly bytesOut: Counter<'topic'>;
  private readonly failedProduce: Counter<'topic'>;
  private readonly failedFetch: Counter<'topic'>;
  private readonly requests: Counter<'request' | 'version'>;
  private readonly totalTime: Histogram<'request'>;

  constructor(private readonly target: AdminTarget) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const topicCounter = (name: string, help: string): Counter<'topic'> => new Counter({ name, help, labelNames: ['topic'], registers });
    this.bytesIn = topicCounter('kafka_server_brokertopicmetrics_bytesin_total', 'Bytes of record batches appended by produce requests (BytesInPerSec).');
    this.messagesIn = topicCounter('kafka_server_brokertopicmetrics_messagesin_total', 'Records appended by produce requests (MessagesInPerSec).');
    this.bytesOut = topicCounter('kafka_server_brokertopicmetrics_bytesout_total', 'Bytes of record batches sent to consumers, replication excluded (BytesOutPerSec).');
    this.failedProduce = topicCounter('kafka_server_brokertopicmetrics_failedproducerequests_total', 'Produce partition requests answered with an error (FailedProduceRequestsPerSec).');
    this.failedFetch = topicCounter('kafka_server_brokertopicmetrics_failedfetchrequests_total', 'Fetch partition requests answered with an error (FailedFetchRequestsPerSec).');
    this.requests = new Counter({
      name: 'kafka_network_requestmetrics_requests_total',
      help: 'Requests handled, by API name and version (RequestMetrics RequestsPerSec).',
      labelNames: ['request', 'version'],
      registers,
    });
    this.totalTime = new Histogram({
      name: 'kafka_network_requestmetrics_totaltimems',
      help: 'Time from a request frame to its outcome, in ms, by API (RequestMetrics TotalTimeMs).',
      labelNames: ['request'],
      buckets: LATENCY_BUCKETS_MS,
      registers,
    });
    this.defineGauges();
  }

  /** Hooks the dispatcher: request counts and latency for every request, per-topic traffic. */
  instrument(dispatcher: Dispatcher): void {
    dispatcher.addHook('onResponse', (ctx, _outcome, durationMs) => {
      const request = apiName(ctx.apiKey);
      this.requests.inc({ request, version: String(ctx.apiVersion) });
      this.totalTime.observe({ request }, durationMs);
    });
    dispatcher.addHook('onHandled', (ctx, request, response) => {
      if (ctx.apiKey === ApiKey.Produce) this.onProduce(ctx, request as ProduceRequest, response as ProduceResponse);
      else if (ctx.apiKey === ApiKey.Fetch) this.onFetch(ctx, request as FetchRequest, response as FetchResponse);
    });
  }

  /** Cumulative traffic of every topic that has had some. */
  trafficOf(topic: string): TopicTraffic {
    return this.traffic.get(topic) ?? { bytesIn: 0, messagesIn: 0, bytesOut: 0 };
  }

  private trafficEntry(topic: string): TopicTraffic {
    let entry = this.traffic.get(topic);
    if (entry === undefined) {
      entry = { bytesIn: 0, messagesIn: 0, bytesOut: 0 };
      this.traffic.set(topic, entry);
    }
    return entry;
  }

  /** Only topics that exist get a label: a client naming random topics cannot grow the series. */
  private known(ctx: RequestContext, topic: string): boolean {
    return topic !== '' && ctx.services.metadata.topic(topic) !== undefined;
  }

  private onProduce(ctx: RequestContext, req: ProduceRequest, res: ProduceResponse): void {
    req.topicData.forEach((topicData, i) => {
      const topic = res.responses[i]?.name ?? topicData.name;
      if (!this.known(ctx, topic)) return;
      const answered = res.responses[i]?.partitionResponses ?? [];
      topicData.partitionData.forEach((p, j) => {
        const out = answered[j] as ProduceResponse['responses'][number]['partitionResponses'][number] | undefined;
        if (out === undefined) return;
        if (out.errorCode !== 0) {
          this.failedProduce.inc({ topic });
          return;
        }
        const bytes = p.records?.length ?? 0;
        const messages = p.records === null ? 0 : recordCount(p.records);
        this.bytesIn.inc({ topic }, bytes);
        this.messagesIn.inc({ topic }, messages);
        const entry = this.trafficEntry(topic);
        entry.bytesIn += bytes;
        entry.messagesIn += messages;
      });
    });
  }

  private onFetch(ctx: RequestContext, req: FetchRequest, res: FetchResponse): void {
    const replicaId = ctx.apiVersion >= 15 ? req.replicaState.replicaId : req.replicaId;
    for (const t of res.responses) {
      const byId = t.topicId === undefined ? undefined : ctx.services.metadata.topicById(t.topicId);
      const topic = t.topic !== undefined && t.topic !== '' ? t.topic : (byId?.name ?? '');
      if (!this.known(ctx, topic)) continue;
      for (const p of t.partitions) {
        if (p.errorCode !== 0) {
          this.failedFetch.inc({ topic });
          continue;
        }
        // Kafka counts follower fetches as replication bytes, not BytesOut.
        if (replicaId >= 0 || p.records === null) continue;
        const bytes = p.records.length;
        if (bytes === 0) continue;
        this.bytesOut.inc({ topic }, bytes);
        this.trafficEntry(topic).bytesOut += bytes;
      }
    }
  }

  /** A gauge set at scrape time from the live services (nothing while the broker starts). */
  private gauge<L extends string>(name: string, help: string, labelNames: L[], fill: (set: (labels: Partial<Record<L, string>>, value: number) => void, s: AdminServices) => void): void {
    const target = this.target;
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        const services = target.services();
        if (services === null) return;
        fill((labels, value) => this.set(labels, value), services);
      },
    });
  }

  private defineGauges(): void {
    const target = this.target;
    this.gauge('kafka_server_replicamanager_partitioncount', 'Partitions hosted by this broker (leader or follower).', [], (set, s) => {
      set({}, s.api.replicaManager.allPartitions().length);
    });
    this.gauge('kafka_server_replicamanager_leadercount', 'Partitions led by this broker.', [], (set, s) => {
      set({}, s.api.replicaManager.allPartitions().filter((p) => p.isLeader).length);
    });
    this.gauge('kafka_server_replicamanager_underreplicatedpartitions', 'Partitions led here whose ISR is smaller than their replica set.', [], (set, s) => {
      set({}, s.api.replicaManager.allPartitions().filter((p) => p.isLeader && p.isr.length < p.replicas.length).length);
    });
    this.gauge('kafka_controller_kafkacontroller_activecontrollercount', '1 on the broker that is the active controller, else 0.', [], (set, s) => {
      set({}, s.api.metadata.controllerId() === target.nodeId ? 1 : 0);
    });
    // Reported by the active controller only (as Kafka), so a sum over brokers counts each once.
    const onController = (s: AdminServices): boolean => s.api.metadata.controllerId() === target.nodeId;
    this.gauge('kafka_controller_kafkacontroller_offlinepartitionscount', 'Partitions without a leader (reported by the active controller).', [], (set, s) => {
      const offline = onController(s) ? s.api.metadata.topics().reduce((n, t) => n + t.partitions.filter((p) => p.leader < 0).length, 0) : 0;
      set({}, offline);
    });
    this.gauge('kafka_controller_kafkacontroller_globaltopiccount', 'Topics in the cluster (reported by the active controller).', [], (set, s) => {
      set({}, onController(s) ? s.api.metadata.topics().length : 0);
    });
    this.gauge('kafka_controller_kafkacontroller_globalpartitioncount', 'Partitions in the cluster (reported by the active controller).', [], (set, s) => {
      set({}, onController(s) ? s.api.metadata.topics().reduce((n, t) => n + t.partitions.length, 0) : 0);
    });
    this.gauge('kafka_log_log_size', 'Bytes of a partition log on disk (all segments).', ['topic', 'partition'], (set, s) => {
      for (const p of s.api.replicaManager.allPartitions()) {
        set({ topic: p.topic, partition: String(p.index) }, p.log.segments().reduce((n, seg) => n + seg.sizeInBytes, 0));
      }
    });
    this.gauge('kafka_log_log_logendoffset', 'Log end offset of a partition hosted here.', ['topic', 'partition'], (set, s) => {
      for (const p of s.api.replicaManager.allPartitions()) set({ topic: p.topic, partition: String(p.index) }, p.logEndOffset);
    });
    this.gauge('kafka_log_log_logstartoffset', 'Log start offset of a partition hosted here.', ['topic', 'partition'], (set, s) => {
      for (const p of s.api.replicaManager.allPartitions()) set({ topic: p.topic, partition: String(p.index) }, p.logStartOffset);
    });
    this.gauge('kafka_server_socketservermetrics_connection_count', 'Open client connections.', ['listener'], (set) => {
      set({ listener: 'PLAINTEXT' }, target.connectionCount());
    });
    this.gauge('spool_storage_engine_info', 'The storage engine in use (value 1).', ['engine'], (set, s) => {
      set({ engine: s.engine.name }, 1);
    });
    // kafka_exporter's group metrics, for the groups this broker coordinates.
    const eachGroup = (s: AdminServices, fn: (groupId: string) => void): void => {
      const listed = s.api.groupCoordinator.listGroups([]);
      for (const g of listed.groups) fn(g.groupId);
    };
    this.gauge('kafka_consumergroup_lag', 'High watermark minus committed offset of a group on a partition.', ['consumergroup', 'topic', 'partition'], (set, s) => {
      eachGroup(s, (groupId) => {
        for (const o of groupOffsets(s.api, groupId)) {
          if (o.lag !== null) set({ consumergroup: groupId, topic: o.topic, partition: String(o.partition) }, o.lag);
        }
      });
    });
    this.gauge('kafka_consumergroup_lag_sum', 'Lag of a group summed over the partitions of a topic.', ['consumergroup', 'topic'], (set, s) => {
      eachGroup(s, (groupId) => {
        const sums = new Map<string, number>();
        for (const o of groupOffsets(s.api, groupId)) if (o.lag !== null) sums.set(o.topic, (sums.get(o.topic) ?? 0) + o.lag);
        for (const [topic, lag] of sums) set({ consumergroup: groupId, topic }, lag);
      });
    });
    this.gauge('kafka_consumergroup_current_offset', 'Committed offset of a group on a partition.', ['consumergroup', 'topic', 'partition'], (set, s) => {
      eachGroup(s, (groupId) => {
        for (const o of groupOffsets(s.api, groupId)) set({ consumergroup: groupId, topic: o.topic, partition: String(o.partition) }, o.committedOffset);
      });
    });
    this.gauge('kafka_consumergroup_members', 'Members of a group.', ['consumergroup'], (set, s) => {
      eachGroup(s, (groupId) => {
        const [described] = s.api.groupCoordinator.describeGroups([groupId]);
        set({ consumergroup: groupId }, described.members.length);
      });
    });
  }
}
