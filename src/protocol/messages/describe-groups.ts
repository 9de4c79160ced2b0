// protocol/ room: DescribeGroups (key 15), classic groups.
import { array, bool, bytes, int16, int32, message, string, type Infer, type InferInput } from '../schema.js';

export const DescribeGroupsRequest = message({
  name: 'DescribeGroupsRequest',
  apiKey: 15,
  versions: '0-6',
  flexible: '5+',
  fields: {
    groups: array(string()),
    includeAuthorizedOperations: bool({ v: '3+', default: false }),
  },
});
export type DescribeGroupsRequest = Infer<typeof DescribeGroupsRequest>;

export const DescribeGroupsResponse = message({
  name: 'DescribeGroupsResponse',
  apiKey: 15,
  versions: '0-6',
  flexible: '5+',
  fields: {
    throttleTimeMs: int32({ v: '1+' }),
    groups: array({
      errorCode: int16(),
      errorMessage: string({ v: '6+', nullable: '6+', default: null }),
      groupId: string(),
      groupState: string(),
      protocolType: string(),
      protocolData: string(),
      members: array({
        memberId: string(),
        groupInstanceId: string({ v: '4+', nullable: '4+', default: null }),
        clientId: string(),
        clientHost: string(),
        memberMetadata: bytes(),
        memberAssignment: bytes(),
      }),
      authorizedOperations: int32({ v: '3+', default: -2147483648 }),
    }),
  },
});
export type DescribeGroupsResponse = InferInput<typeof DescribeGroupsResponse>;
