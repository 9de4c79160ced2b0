// protocol/ room: ListGroups (key 16). Filters (v4 states, v5 types) are empty for "all".
import { array, int16, int32, message, string, type Infer, type InferInput } from '../schema.js';

export const ListGroupsRequest = message({
  name: 'ListGroupsRequest',
  apiKey: 16,
  versions: '0-5',
  flexible: '3+',
  fields: {
    statesFilter: array(string(), { v: '4+' }),
    typesFilter: array(string(), { v: '5+' }),
  },
});
export type ListGroupsRequest = Infer<typeof ListGroupsRequest>;

export const ListGroupsResponse = message({
  name: 'ListGroupsResponse',
  apiKey: 16,
  versions: '0-5',
  flexible: '3+',
  fields: {
    throttleTimeMs: int32({ v: '1+' }),
    errorCode: int16(),
    groups: array({
      groupId: string(),
      protocolType: string(),
      groupState: string({ v: '4+' }),
      groupType: string({ v: '5+' }),
    }),
  },
});
export type ListGroupsResponse = InferInput<typeof ListGroupsResponse>;
