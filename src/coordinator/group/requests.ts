// coordinator/group room: the request and result shapes of the group coordinator's operations
// (what API handlers pass in and get back), shared by the facade and the shards.
import { EMPTY_BYTES, type GroupProtocol, type GroupState, type JoinGroupResult, type SyncGroupResult } from './group.js';

/** The topics a consumer group resolves subscriptions against (the broker's metadata, internal topics left out). */
export interface TopicsView {
  names(): readonly string[];
  byName(name: string): { topicId: string; numPartitions: number } | undefined;
  nameOf(topicId: string): string | undefined;
  /**
   * A version that changes whenever the topic set may have (the metadata image version): regex
   * subscriptions resolved at one version are reused at the same version. Absent: never reused.
   */
  version?(): number;
}

export const UNKNOWN_MEMBER_ID = '';
/** A commit with this generation is a simple (standalone) commit, outside group membership. */
export const NO_GENERATION = -1;

export interface JoinGroupParams {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
  clientId: string;
  clientHost: string;
  /** JoinGroup v4+ (KIP-394): a new dynamic member first gets MEMBER_ID_REQUIRED. */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+ (KIP-814): a rejoining static leader is told to skip the assignment. */
  supportSkipAssignment: boolean;
  reason?: string | null;
  /** The broker's topics: a classic member joining a consumer group (online migration) is assigned by topic id. */
  topics?: TopicsView;
}

export interface SyncGroupParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: Array<{ memberId: string; assignment: Buffer }>;
  /** The broker's topics (names of a consumer group member's assigned topic ids). */
  topics?: TopicsView;
}

export interface HeartbeatParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface MemberIdentity {
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeaveGroupResult {
  errorCode: number;
  members: Array<MemberIdentity & { errorCode: number }>;
}

export interface OffsetCommitParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** OffsetCommit v2-v4 retentionTimeMs; -1 = offsets.retention.minutes. */
  retentionTimeMs: number;
  /** The request's version: a consumer group refuses commits below v9 (no member epoch). */
  apiVersion?: number;
  topics: Array<{
    name: string;
    partitions: Array<{ partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; committedMetadata: string | null }>;
  }>;
}

export interface TopicPartitionErrors {
  name: string;
  partitions: Array<{ partitionIndex: number; errorCode: number }>;
}

export interface FetchedOffsets {
  errorCode: number;
  topics: Array<{
    name: string;
    partitions: Array<{ partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; metadata: string | null; errorCode: number }>;
  }>;
}

export interface DescribedGroup {
  errorCode: number;
  errorMessage?: string | null;
  groupId: string;
  groupState: GroupState;
  protocolType: string;
  protocolData: string;
  members: Array<{
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    memberMetadata: Buffer;
    memberAssignment: Buffer;
  }>;
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  /** A classic GroupState, or a consumer group's (Empty, Assigning, Reconciling, Stable). */
  groupState: string;
  /** ListGroups v5: "consumer" for KIP-848 groups; absent for classic ones. */
  groupType?: 'consumer';
}

/** What a generation settled on: reported once per generation when the group becomes Stable. */
export interface StableGeneration {
  groupId: string;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string | null;
  /** ms from the start of PreparingRebalance to Stable. */
  rebalanceMs: number;
  assignments: Array<{ memberId: string; groupInstanceId: string | null; assignment: Buffer }>;
}

export function joinError(memberId: string, errorCode: number): JoinGroupResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: '',
    skipAssignment: false,
    memberId,
    members: [],
  };
}

export function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY_BYTES };
}
