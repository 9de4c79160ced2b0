// protocol/ room: Metadata (key 3). v0-3 stay accepted for kafka-python and aiokafka. In v0 an
// empty topic list means "all topics"; from v1 that is a null list.
import { array, bool, int16, int32, message, string, uuid, type Infer, type InferInput } from '../schema.js';

export const MetadataRequest = message({
  name: 'MetadataRequest',
  apiKey: 3,
  versions: '0-13',
  flexible: '9+',
  fields: {
    topics: array({ topicId: uuid({ v: '10+' }), name: string({ nullable: '10+' }) }, { nullable: '1+' }),
    allowAutoTopicCreation: bool({ v: '4+', default: true }),
    includeClusterAuthorizedOperations: bool({ v: '8-10' }),
    includeTopicAuthorizedOperations: bool({ v: '8+' }),
  },
});
export type MetadataRequest = Infer<typeof MetadataRequest>;

export const MetadataResponse = message({
  name: 'MetadataResponse',
  apiKey: 3,
  versions: '0-13',
  flexible: '9+',
  fields: {
    throttleTimeMs: int32({ v: '3+' }),
    brokers: array({
      nodeId: int32(),
      host: string(),
      port: int32(),
      rack: string({ v: '1+', nullable: '1+', default: null }),
    }),
    clusterId: string({ v: '2+', nullable: '2+', default: null }),
    controllerId: int32({ v: '1+', default: -1 }),
    topics: array({
      errorCode: int16(),
      name: string({ nullable: '12+' }),
      topicId: uuid({ v: '10+' }),
      isInternal: bool({ v: '1+', default: false }),
      partitions: array({
        errorCode: int16(),
        partitionIndex: int32(),
        leaderId: int32(),
        leaderEpoch: int32({ v: '7+', default: -1 }),
        replicaNodes: array(int32()),
        isrNodes: array(int32()),
        offlineReplicas: array(int32(), { v: '5+' }),
      }),
      topicAuthorizedOperations: int32({ v: '8+', default: -2147483648 }),
    }),
    clusterAuthorizedOperations: int32({ v: '8-10', default: -2147483648 }),
    errorCode: int16({ v: '13+' }),
  },
});
export type MetadataResponse = InferInput<typeof MetadataResponse>;
