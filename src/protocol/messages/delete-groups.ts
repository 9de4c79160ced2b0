// protocol/ room: DeleteGroups (key 42). Only empty groups can be deleted (NON_EMPTY_GROUP).
// v3 adds a per-group error message (null when the group was deleted); the request is unchanged.
import { array, int16, int32, message, string, type Infer, type InferInput } from '../schema.js';

export const DeleteGroupsRequest = message({
  name: 'DeleteGroupsRequest',
  apiKey: 42,
  versions: '0-3',
  flexible: '2+',
  fields: {
    groupsNames: array(string()),
  },
});
export type DeleteGroupsRequest = Infer<typeof DeleteGroupsRequest>;

export const DeleteGroupsResponse = message({
  name: 'DeleteGroupsResponse',
  apiKey: 42,
  versions: '0-3',
  flexible: '2+',
  fields: {
    throttleTimeMs: int32(),
    results: array({ groupId: string(), errorCode: int16(), errorMessage: string({ v: '3+', nullable: '3+', default: null }) }),
  },
});
export type DeleteGroupsResponse = InferInput<typeof DeleteGroupsResponse>;
