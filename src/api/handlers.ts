// api/ room: every API this broker serves, as registrations declared next to their handlers.
import type { ApiVersionRange } from '../protocol/index.js';
import { aclApis } from './acls.js';
import { apiVersionsApi } from './api-versions.js';
import { describeClientQuotasApi } from './client-quotas.js';
import { describeClusterApi, initProducerIdApi } from './cluster.js';
import { alterConfigsApi, describeConfigsApi, incrementalAlterConfigsApi } from './configs.js';
import { deleteRecordsApi } from './delete-records.js';
import { electLeadersApi } from './elect-leaders.js';
import { fetchApi } from './fetch.js';
import { groupApis } from './group-handlers.js';
import { listOffsetsApi, offsetForLeaderEpochApi } from './list-offsets.js';
import { describeLogDirsApi } from './log-dirs.js';
import { metadataApi } from './metadata.js';
import { produceApi } from './produce.js';
import { saslApis } from './sasl.js';
import { shareFetchApis } from './share-fetch.js';
import { shareGroupApis } from './share-groups.js';
import { shareStateApis } from './share-state.js';
import { createPartitionsApi, createTopicsApi, deleteTopicsApi } from './topics.js';
import { txnAdminApis } from './txn-admin.js';
import { txnApis } from './txn-handlers.js';
import type { ApiRegistration } from './types.js';

export function allApis(advertised: () => ApiVersionRange[]): ApiRegistration[] {
  return [
    apiVersionsApi(advertised),
    metadataApi,
    produceApi,
    fetchApi,
    listOffsetsApi,
    offsetForLeaderEpochApi,
    createTopicsApi,
    deleteTopicsApi,
    createPartitionsApi,
    describeConfigsApi,
    alterConfigsApi,
    incrementalAlterConfigsApi,
    describeClusterApi,
    initProducerIdApi,
    describeLogDirsApi,
    electLeadersApi,
    deleteRecordsApi,
    ...groupApis,
    ...txnApis,
    ...txnAdminApis,
    ...aclApis,
    ...shareGroupApis,
    ...shareFetchApis,
    ...shareStateApis,
    ...saslApis,
    describeClientQuotasApi,
  ];
}
