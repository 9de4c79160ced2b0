// protocol/ room: ElectLeaders (key 43, KIP-460): preferred (0) or unclean (1) leader election for
// the given partitions, or for all when topicPartitions is null.
import { array, int16, int32, int8, message, string, type Infer, type InferInput } from '../schema.js';

export const ElectLeadersRequest = message({
  name: 'ElectLeadersRequest',
  apiKey: 43,
  versions: '0-2',
  flexible: '2+',
  fields: {
    electionType: int8({ v: '1+', default: 0 }),
    topicPartitions: array({ topic: string(), partitionId: array(int32()) }, { nullable: '0+' }),
    timeoutMs: int32({ default: 60000 }),
  },
});
export type ElectLeadersRequest = Infer<typeof ElectLeadersRequest>;

export const ElectLeadersResponse = message({
  name: 'ElectLeadersResponse',
  apiKey: 43,
  versions: '0-2',
  flexible: '2+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16({ v: '1+', default: 0 }),
    replicaElectionResults: array({
      topic: string(),
      partitionResult: array({ partitionId: int32(), errorCode: int16(), errorMessage: string({ nullable: '0+' }) }),
    }),
  },
});
export type ElectLeadersResponse = InferInput<typeof ElectLeadersResponse>;
