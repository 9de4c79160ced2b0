// protocol/ room: the one table of APIs the broker speaks. Adding an API is adding a line here
// (plus its messages/<api>.ts declaration).
import type { AnyMessageSchema, Infer, InferInput } from '../schema.js';
import { CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse, DescribeAclsRequest, DescribeAclsResponse } from './acls.js';
import { AddOffsetsToTxnRequest, AddOffsetsToTxnResponse } from './add-offsets-to-txn.js';
import { AddPartitionsToTxnRequest, AddPartitionsToTxnResponse } from './add-partitions-to-txn.js';
import { AlterConfigsRequest, AlterConfigsResponse } from './alter-configs.js';
import { ApiVersionsRequest, ApiVersionsResponse } from './api-versions.js';
import { DescribeClientQuotasRequest, DescribeClientQuotasResponse } from './client-quotas.js';
import { ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse } from './consumer-group-describe.js';
import { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse } from './consumer-group-heartbeat.js';
import { CreatePartitionsRequest, CreatePartitionsResponse } from './create-partitions.js';
import { CreateTopicsRequest, CreateTopicsResponse } from './create-topics.js';
import { DeleteGroupsRequest, DeleteGroupsResponse } from './delete-groups.js';
import { DeleteRecordsRequest, DeleteRecordsResponse } from './delete-records.js';
import { DeleteTopicsRequest, DeleteTopicsResponse } from './delete-topics.js';
import { DescribeClusterRequest, DescribeClusterResponse } from './describe-cluster.js';
import { DescribeConfigsRequest, DescribeConfigsResponse } from './describe-configs.js';
import { DescribeGroupsRequest, DescribeGroupsResponse } from './describe-groups.js';
import { DescribeLogDirsRequest, DescribeLogDirsResponse } from './describe-log-dirs.js';
import { DescribeProducersRequest, DescribeProducersResponse } from './describe-producers.js';
import { DescribeTransactionsRequest, DescribeTransactionsResponse } from './describe-transactions.js';
import { ElectLeadersRequest, ElectLeadersResponse } from './elect-leaders.js';
import { EndTxnRequest, EndTxnResponse } from './end-txn.js';
import { FetchRequest, FetchResponse } from './fetch.js';
import { FindCoordinatorRequest, FindCoordinatorResponse } from './find-coordinator.js';
import { HeartbeatRequest, HeartbeatResponse } from './heartbeat.js';
import { IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from './incremental-alter-configs.js';
import { InitProducerIdRequest, InitProducerIdResponse } from './init-producer-id.js';
import { JoinGroupRequest, JoinGroupResponse } from './join-group.js';
import { LeaveGroupRequest, LeaveGroupResponse } from './leave-group.js';
import { ListGroupsRequest, ListGroupsResponse } from './list-groups.js';
import { ListOffsetsRequest, ListOffsetsResponse } from './list-offsets.js';
import { ListTransactionsRequest, ListTransactionsResponse } from './list-transactions.js';
import { MetadataRequest, MetadataResponse } from './metadata.js';
import { OffsetCommitRequest, OffsetCommitResponse } from './offset-commit.js';
import { OffsetDeleteRequest, OffsetDeleteResponse } from './offset-delete.js';
import { OffsetFetchRequest, OffsetFetchResponse } from './offset-fetch.js';
import { OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from './offset-for-leader-epoch.js';
import { ProduceRequest, ProduceResponse } from './produce.js';
import { SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse } from './sasl.js';
import {
  AlterUserScramCredentialsRequest,
  AlterUserScramCredentialsResponse,
  DescribeUserScramCredentialsRequest,
  DescribeUserScramCredentialsResponse,
} from './scram-credentials.js';
import { ShareAcknowledgeRequest, ShareAcknowledgeResponse } from './share-acknowledge.js';
import { ShareFetchRequest, ShareFetchResponse } from './share-fetch.js';
import { ShareGroupDescribeRequest, ShareGroupDescribeResponse } from './share-group-describe.js';
import { ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse } from './share-group-heartbeat.js';
import {
  AlterShareGroupOffsetsRequest,
  AlterShareGroupOffsetsResponse,
  DeleteShareGroupOffsetsRequest,
  DeleteShareGroupOffsetsResponse,
  DescribeShareGroupOffsetsRequest,
  DescribeShareGroupOffsetsResponse,
} from './share-group-offsets.js';
import {
  DeleteShareGroupStateRequest,
  DeleteShareGroupStateResponse,
  InitializeShareGroupStateRequest,
  InitializeShareGroupStateResponse,
  ReadShareGroupStateRequest,
  ReadShareGroupStateResponse,
  ReadShareGroupStateSummaryRequest,
  ReadShareGroupStateSummaryResponse,
  WriteShareGroupStateRequest,
  WriteShareGroupStateResponse,
} from './share-state.js';
import { SyncGroupRequest, SyncGroupResponse } from './sync-group.js';
import { TxnOffsetCommitRequest, TxnOffsetCommitResponse } from './txn-offset-commit.js';
import { WriteTxnMarkersRequest, WriteTxnMarkersResponse } from './write-txn-markers.js';

export interface ApiDef<Req extends AnyMessageSchema, Res extends AnyMessageSchema> {
  request: Req;
  response: Res;
  /** Versions the broker accepts; the codecs may cover more (Produce v0-2). */
  minVersion: number;
  maxVersion: number;
  /** Lowest version ApiVersions advertises. */
  advertisedMinVersion: number;
}

interface ApiOptions {
  /** Lowest accepted version when the codec covers older ones. */
  minVersion?: number;
  /** Lowest advertised version when it differs from the lowest accepted one. */
  advertisedMinVersion?: number;
}

function api<Req extends AnyMessageSchema, Res extends AnyMessageSchema>(
  request: Req,
  response: Res,
  opts: ApiOptions = {},
): ApiDef<Req, Res> {
  if (request.apiKey !== response.apiKey) throw new Error(`${request.name}/${response.name}: api keys differ`);
  if (request.versions.min !== response.versions.min || request.versions.max !== response.versions.max) {
    throw new Error(`${request.name}/${response.name}: version ranges differ`);
  }
  const minVersion = opts.minVersion ?? request.versions.min;
  return {
    request,
    response,
    minVersion,
    maxVersion: request.versions.max,
    advertisedMinVersion: opts.advertisedMinVersion ?? minVersion,
  };
}

export const apis = {
  // KAFKA-18659: librdkafka needs Produce advertised from v0; v0-2 requests are still rejected.
  Produce: api(ProduceRequest, ProduceResponse, { minVersion: 3, advertisedMinVersion: 0 }),
  Fetch: api(FetchRequest, FetchResponse),
  ListOffsets: api(ListOffsetsRequest, ListOffsetsResponse),
  Metadata: api(MetadataRequest, MetadataResponse),
  OffsetCommit: api(OffsetCommitRequest, OffsetCommitResponse),
  OffsetFetch: api(OffsetFetchRequest, OffsetFetchResponse),
  FindCoordinator: api(FindCoordinatorRequest, FindCoordinatorResponse),
  JoinGroup: api(JoinGroupRequest, JoinGroupResponse),
  Heartbeat: api(HeartbeatRequest, HeartbeatResponse),
  LeaveGroup: api(LeaveGroupRequest, LeaveGroupResponse),
  SyncGroup: api(SyncGroupRequest, SyncGroupResponse),
  DescribeGroups: api(DescribeGroupsRequest, DescribeGroupsResponse),
  ListGroups: api(ListGroupsRequest, ListGroupsResponse),
  SaslHandshake: api(SaslHandshakeRequest, SaslHandshakeResponse),
  ApiVersions: api(ApiVersionsRequest, ApiVersionsResponse),
  CreateTopics: api(CreateTopicsRequest, CreateTopicsResponse),
  DeleteTopics: api(DeleteTopicsRequest, DeleteTopicsResponse),
  DeleteRecords: api(DeleteRecordsRequest, DeleteRecordsResponse),
  InitProducerId: api(InitProducerIdRequest, InitProducerIdResponse),
  OffsetForLeaderEpoch: api(OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse),
  AddPartitionsToTxn: api(AddPartitionsToTxnRequest, AddPartitionsToTxnResponse),
  AddOffsetsToTxn: api(AddOffsetsToTxnRequest, AddOffsetsToTxnResponse),
  EndTxn: api(EndTxnRequest, EndTxnResponse),
  WriteTxnMarkers: api(WriteTxnMarkersRequest, WriteTxnMarkersResponse),
  TxnOffsetCommit: api(TxnOffsetCommitRequest, TxnOffsetCommitResponse),
  DescribeConfigs: api(DescribeConfigsRequest, DescribeConfigsResponse),
  AlterConfigs: api(AlterConfigsRequest, AlterConfigsResponse),
  SaslAuthenticate: api(SaslAuthenticateRequest, SaslAuthenticateResponse),
  DescribeClientQuotas: api(DescribeClientQuotasRequest, DescribeClientQuotasResponse),
  DescribeUserScramCredentials: api(DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse),
  AlterUserScramCredentials: api(AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse),
  DescribeAcls: api(DescribeAclsRequest, DescribeAclsResponse),
  CreateAcls: api(CreateAclsRequest, CreateAclsResponse),
  DeleteAcls: api(DeleteAclsRequest, DeleteAclsResponse),
  CreatePartitions: api(CreatePartitionsRequest, CreatePartitionsResponse),
  DeleteGroups: api(DeleteGroupsRequest, DeleteGroupsResponse),
  IncrementalAlterConfigs: api(IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse),
  OffsetDelete: api(OffsetDeleteRequest, OffsetDeleteResponse),
  DescribeCluster: api(DescribeClusterRequest, DescribeClusterResponse),
  DescribeLogDirs: api(DescribeLogDirsRequest, DescribeLogDirsResponse),
  ElectLeaders: api(ElectLeadersRequest, ElectLeadersResponse),
  DescribeProducers: api(DescribeProducersRequest, DescribeProducersResponse),
  DescribeTransactions: api(DescribeTransactionsRequest, DescribeTransactionsResponse),
  ListTransactions: api(ListTransactionsRequest, ListTransactionsResponse),
  ConsumerGroupHeartbeat: api(ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse),
  ConsumerGroupDescribe: api(ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse),
  ShareGroupHeartbeat: api(ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse),
  ShareGroupDescribe: api(ShareGroupDescribeRequest, ShareGroupDescribeResponse),
  ShareFetch: api(ShareFetchRequest, ShareFetchResponse),
  ShareAcknowledge: api(ShareAcknowledgeRequest, ShareAcknowledgeResponse),
  InitializeShareGroupState: api(InitializeShareGroupStateRequest, InitializeShareGroupStateResponse),
  ReadShareGroupState: api(ReadShareGroupStateRequest, ReadShareGroupStateResponse),
  WriteShareGroupState: api(WriteShareGroupStateRequest, WriteShareGroupStateResponse),
  DeleteShareGroupState: api(DeleteShareGroupStateRequest, DeleteShareGroupStateResponse),
  ReadShareGroupStateSummary: api(ReadShareGroupStateSummaryRequest, ReadShareGroupStateSummaryResponse),
  DescribeShareGroupOffsets: api(DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse),
  AlterShareGroupOffsets: api(AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse),
  DeleteShareGroupOffsets: api(DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse),
} as const;

type Entry = (typeof apis)[keyof typeof apis];
/** Every API key in the table, as a literal union. */
export type KnownApiKey = Entry['request']['apiKey'];
/** Decoded request body for an API key. */
export type RequestFor<K extends number> = Infer<Extract<Entry, { request: { apiKey: K } }>['request']>;
/** Response body a handler returns for an API key. */
export type ResponseFor<K extends number> = InferInput<Extract<Entry, { response: { apiKey: K } }>['response']>;

/** Request body a client encodes for an API key (fields with defaults may be left out). */
export type RequestInputFor<K extends number> = InferInput<Extract<Entry, { request: { apiKey: K } }>['request']>;
/** Response body as a client decodes it, for an API key. */
export type DecodedResponseFor<K extends number> = Infer<Extract<Entry, { response: { apiKey: K } }>['response']>;

/** Decoded request body by API name, e.g. `RequestOf<'Produce'>`. */
export type RequestOf<N extends keyof typeof apis> = Infer<(typeof apis)[N]['request']>;
/** Response body by API name, e.g. `ResponseOf<'Fetch'>`. */
export type ResponseOf<N extends keyof typeof apis> = InferInput<(typeof apis)[N]['response']>;

export const apiTable: ReadonlyMap<number, ApiDef<AnyMessageSchema, AnyMessageSchema>> = new Map(
  Object.values(apis).map((e) => [e.request.apiKey, e as ApiDef<AnyMessageSchema, AnyMessageSchema>]),
);
