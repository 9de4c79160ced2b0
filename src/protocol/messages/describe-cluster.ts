// protocol/ room: DescribeCluster (key 60). endpointType 1 = brokers, 2 = controllers.
import { array, bool, int16, int32, int8, message, string, type Infer, type InferInput } from '../schema.js';

export const DescribeClusterRequest = message({
  name: 'DescribeClusterRequest',
  apiKey: 60,
  versions: '0-2',
  flexible: '0+',
  fields: {
    includeClusterAuthorizedOperations: bool(),
    endpointType: int8({ v: '1+', default: 1 }),
    includeFencedBrokers: bool({ v: '2+', default: false }),
  },
});
export type DescribeClusterRequest = Infer<typeof DescribeClusterRequest>;

export const DescribeClusterResponse = message({
  name: 'DescribeClusterResponse',
  apiKey: 60,
  versions: '0-2',
  flexible: '0+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16(),
    errorMessage: string({ nullable: '0+', default: null }),
    endpointType: int8({ v: '1+', default: 1 }),
    clusterId: string(),
    controllerId: int32({ default: -1 }),
    brokers: array({
      brokerId: int32(),
      host: string(),
      port: int32(),
      rack: string({ nullable: '0+', default: null }),
      isFenced: bool({ v: '2+', default: false }),
    }),
    clusterAuthorizedOperations: int32({ default: -2147483648 }),
  },
});
export type DescribeClusterResponse = InferInput<typeof DescribeClusterResponse>;
