// cluster/ room: the controller's decisions, as pure functions of a partition's state and the
// live brokers (the way KRaft's PartitionChangeBuilder decides). The etcd store runs them on the
// broker holding the controller key and writes the results with compare-and-set; they have no
// I/O so they can be tested alone.
import type { PartitionState } from './types.js';

export interface PlannedChange {
  leader: number;
  isr: number[];
  /** A leader change (including to/from -1) bumps the leader epoch. */
  leaderChanged: boolean;
  unclean: boolean;
}

/**
 * What the controller changes in one partition given which brokers are alive (`live`: registered
 * and not just fenced), or null when nothing changes:
 * - the leader is alive: dead followers leave the ISR;
 * - the leader is dead or there is none: the first replica (in replica order) that is in the ISR
 *   and alive leads, dead members leave the ISR;
 * - no ISR member is alive: with unclean election the first live replica leads with ISR = [it];
 *   else the partition goes offline (leader -1) and keeps its ISR, every member of which has all
 *   committed records, so whichever comes back first may lead without losing them.
 */
export function planPartitionChange(state: PartitionState, live: ReadonlySet<number>, uncleanAllowed: boolean): PlannedChange | null {
  const liveIsr = state.isr.filter((b) => live.has(b));
  if (state.leader >= 0 && live.has(state.leader)) {
    if (liveIsr.length === state.isr.length) return null;
    return { leader: state.leader, isr: liveIsr, leaderChanged: false, unclean: false };
  }
  const clean = state.replicas.find((r) => liveIsr.includes(r));
  if (clean !== undefined) return { leader: clean, isr: liveIsr, leaderChanged: clean !== state.leader, unclean: false };
  if (uncleanAllowed) {
    const any = state.replicas.find((r) => live.has(r));
    if (any !== undefined) return { leader: any, isr: [any], leaderChanged: any !== state.leader, unclean: true };
  }
  if (state.leader === -1) return null;
  return { leader: -1, isr: [...state.isr], leaderChanged: true, unclean: false };
}

/** The state a planned change leaves: epochs bumped as Kafka does. */
export function applyPlannedChange(state: PartitionState, change: PlannedChange): PartitionState {
  return {
    ...state,
    replicas: [...state.replicas],
    isr: [...change.isr],
    leader: change.leader,
    leaderEpoch: change.leaderChanged ? state.leaderEpoch + 1 : state.leaderEpoch,
    partitionEpoch: state.partitionEpoch + 1,
  };
}

/** The topic override of unclean.leader.election.enable, else the (controller's) broker default. */
export function uncleanElectionEnabled(topicConfigs: Readonly<Partial<Record<string, string>>>, brokerDefault: boolean): boolean {
  const override = topicConfigs['unclean.leader.election.enable'];
  return override === undefined ? brokerDefault : override.trim().toLowerCase() === 'true';
}
