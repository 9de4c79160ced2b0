// cluster/ room: ElectLeaders' decisions (KIP-460), as pure functions of a partition's state and
// the live brokers, the way KRaft's ReplicationControlManager.electLeader and PartitionChangeBuilder
// decide them. Both stores run them; the etcd store on the controller only.
import { ErrorCode } from '../errors.js';
import { applyPlannedChange, planPartitionChange } from './controller.js';
import type { ElectionResult, ElectionTarget, ElectionType } from './metadata-store.js';
import type { PartitionState, TopicImage } from './types.js';

export type ElectionDecision =
  | { kind: 'elect'; next: PartitionState; unclean: boolean }
  | { kind: 'refuse'; errorCode: number; errorMessage: string };

const refuse = (errorCode: number, errorMessage: string): ElectionDecision => ({ kind: 'refuse', errorCode, errorMessage });

/**
 * What an election of `type` does to one partition, given the brokers that are alive:
 * - preferred: ELECTION_NOT_NEEDED when the first replica leads; it becomes leader (leader epoch
 *   bumped, ISR unchanged) when it is alive and in the ISR; PREFERRED_LEADER_NOT_AVAILABLE otherwise;
 * - unclean: ELECTION_NOT_NEEDED while a live broker leads; else the first live in-sync replica,
 *   or failing that the first live replica with ISR = [it] (the records only it lacks are lost),
 *   whatever unclean.leader.election.enable says; ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica
 *   is alive.
 */
export function decideElection(state: PartitionState, type: ElectionType, live: ReadonlySet<number>): ElectionDecision {
  const where = `${state.topic}-${state.partition}`;
  if (type === 'preferred') {
    const preferred = state.replicas.at(0);
    if (preferred === undefined) return refuse(ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, `${where} has no replicas`);
    if (state.leader === preferred) return refuse(ErrorCode.ELECTION_NOT_NEEDED, `Leader is already the preferred replica ${preferred} of ${where}`);
    if (!live.has(preferred)) return refuse(ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, `Preferred replica ${preferred} of ${where} is not alive`);
    if (!state.isr.includes(preferred)) return refuse(ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, `Preferred replica ${preferred} of ${where} is not in the ISR [${state.isr.join(',')}]`);
    return {
      kind: 'elect',
      unclean: false,
      next: { ...state, replicas: [...state.replicas], isr: [...state.isr], leader: preferred, leaderEpoch: state.leaderEpoch + 1, partitionEpoch: state.partitionEpoch + 1 },
    };
  }
  if (state.leader >= 0 && live.has(state.leader)) return refuse(ErrorCode.ELECTION_NOT_NEEDED, `${where} has a live leader (${state.leader})`);
  const plan = planPartitionChange(state, live, true);
  if (plan === null || plan.leader < 0) return refuse(ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, `No replica of ${where} is alive (replicas [${state.replicas.join(',')}])`);
  return { kind: 'elect', unclean: plan.unclean, next: applyPlannedChange(state, plan) };
}

export function electionResult(target: ElectionTarget, errorCode: number, errorMessage: string | null): ElectionResult {
  return { topic: target.topic, partition: target.partition, errorCode, errorMessage };
}

/**
 * The partitions an ElectLeaders request names, each once (null: every partition of every topic),
 * with UNKNOWN_TOPIC_OR_PARTITION results for those that do not exist.
 */
export function electionTargets(
  partitions: readonly ElectionTarget[] | null,
  topic: (name: string) => TopicImage | undefined,
  allTopics: () => TopicImage[],
): { known: ElectionTarget[]; unknown: ElectionResult[] } {
  if (partitions === null) {
    const known = allTopics().flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition })));
    return { known, unknown: [] };
  }
  const seen = new Set<string>();
  const known: ElectionTarget[] = [];
  const unknown: ElectionResult[] = [];
  for (const target of partitions) {
    const id = `${target.topic}\u0000${target.partition}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const image = topic(target.topic);
    if (image === undefined) unknown.push(electionResult(target, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `No such topic as ${target.topic}`));
    else if (target.partition < 0 || target.partition >= image.partitions.length) {
      unknown.push(electionResult(target, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `No such partition as ${target.topic}-${target.partition}`));
    } else known.push(target);
  }
  return { known, unknown };
}

/** Kafka answers an election of every partition without the partitions that needed none. */
export function electionResultsFor(partitions: readonly ElectionTarget[] | null, results: ElectionResult[]): ElectionResult[] {
  return partitions === null ? results.filter((r) => r.errorCode !== ErrorCode.ELECTION_NOT_NEEDED) : results;
}
