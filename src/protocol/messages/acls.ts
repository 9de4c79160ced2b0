// protocol/ room: the ACL APIs — DescribeAcls (key 29), CreateAcls (30), DeleteAcls (31). v0 was
// removed in Kafka 4.0 (KIP-896): v1 adds the pattern type (default 3, LITERAL), v2 is flexible,
// v3 adds the USER resource type.
import { array, int16, int32, int8, message, string, type Infer, type InferInput } from '../schema.js';

export const DescribeAclsRequest = message({
  name: 'DescribeAclsRequest',
  apiKey: 29,
  versions: '1-3',
  flexible: '2+',
  fields: {
    resourceTypeFilter: int8(),
    resourceNameFilter: string({ nullable: '0+' }),
    patternTypeFilter: int8({ default: 3 }),
    principalFilter: string({ nullable: '0+' }),
    hostFilter: string({ nullable: '0+' }),
    operation: int8(),
    permissionType: int8(),
  },
});
export type DescribeAclsRequest = Infer<typeof DescribeAclsRequest>;

export const DescribeAclsResponse = message({
  name: 'DescribeAclsResponse',
  apiKey: 29,
  versions: '1-3',
  flexible: '2+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16(),
    errorMessage: string({ nullable: '0+', default: null }),
    resources: array({
      resourceType: int8(),
      resourceName: string(),
      patternType: int8({ default: 3 }),
      acls: array({ principal: string(), host: string(), operation: int8(), permissionType: int8() }),
    }),
  },
});
export type DescribeAclsResponse = InferInput<typeof DescribeAclsResponse>;

export const CreateAclsRequest = message({
  name: 'CreateAclsRequest',
  apiKey: 30,
  versions: '1-3',
  flexible: '2+',
  fields: {
    creations: array({
      resourceType: int8(),
      resourceName: string(),
      resourcePatternType: int8({ default: 3 }),
      principal: string(),
      host: string(),
      operation: int8(),
      permissionType: int8(),
    }),
  },
});
export type CreateAclsRequest = Infer<typeof CreateAclsRequest>;

export const CreateAclsResponse = message({
  name: 'CreateAclsResponse',
  apiKey: 30,
  versions: '1-3',
  flexible: '2+',
  fields: {
    throttleTimeMs: int32(),
    results: array({ errorCode: int16(), errorMessage: string({ nullable: '0+', default: null }) }),
  },
});
export type CreateAclsResponse = InferInput<typeof CreateAclsResponse>;

export const DeleteAclsRequest = message({
  name: 'DeleteAclsRequest',
  apiKey: 31,
  versions: '1-3',
  flexible: '2+',
  fields: {
    filters: array({
      resourceTypeFilter: int8(),
      resourceNameFilter: string({ nullable: '0+' }),
      patternTypeFilter: int8({ default: 3 }),
      principalFilter: string({ nullable: '0+' }),
      hostFilter: string({ nullable: '0+' }),
      operation: int8(),
      permissionType: int8(),
    }),
  },
});
export type DeleteAclsRequest = Infer<typeof DeleteAclsRequest>;

export const DeleteAclsResponse = message({
  name: 'DeleteAclsResponse',
  apiKey: 31,
  versions: '1-3',
  flexible: '2+',
  fields: {
    throttleTimeMs: int32(),
    filterResults: array({
      errorCode: int16(),
      errorMessage: string({ nullable: '0+', default: null }),
      matchingAcls: array({
        errorCode: int16(),
        errorMessage: string({ nullable: '0+', default: null }),
        resourceType: int8(),
        resourceName: string(),
        patternType: int8({ default: 3 }),
        principal: string(),
        host: string(),
        operation: int8(),
        permissionType: int8(),
      }),
    }),
  },
});
export type DeleteAclsResponse = InferInput<typeof DeleteAclsResponse>;
