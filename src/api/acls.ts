// api/ room: DescribeAcls, CreateAcls, DeleteAcls — what kafka-acls and Admin.createAcls use. ACLs
// live in the metadata store, so every broker of the cluster authorizes with the same ones and
// they survive a restart. Without an authorizer each answers SECURITY_DISABLED, as Kafka does.
// Who may call them (DESCRIBE / ALTER on the cluster) is checked by the authorization layer.
import { ErrorCode } from '../errors.js';
import { ApiKey, type RequestOf, type ResponseOf } from '../protocol/index.js';
import { bindingProblem, describeBinding, filterMatches, filterProblem, type AclBinding, type AclBindingFilter } from '../security/authorizer/index.js';
import { authorizerOf } from './authorize.js';
import { errorResponse } from './errors.js';
import { defineApi, type RequestContext } from './types.js';

const NO_AUTHORIZER = 'No Authorizer is configured on the broker';

function storedAcls(ctx: RequestContext): readonly AclBinding[] {
  return ctx.services.metadata.acls?.() ?? [];
}

function filterOf(f: RequestOf<'DescribeAcls'>): AclBindingFilter {
  return {
    resourceType: f.resourceTypeFilter,
    resourceName: f.resourceNameFilter,
    patternType: f.patternTypeFilter,
    principal: f.principalFilter,
    host: f.hostFilter,
    operation: f.operation,
    permissionType: f.permissionType,
  };
}

export function handleDescribeAcls(req: RequestOf<'DescribeAcls'>, ctx: RequestContext): ResponseOf<'DescribeAcls'> {
  if (authorizerOf(ctx.services) === null) return { throttleTimeMs: 0, errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER, resources: [] };
  const filter = filterOf(req);
  const problem = filterProblem(filter);
  if (problem !== null) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem, resources: [] };
  // One entry per resource pattern, with its ACLs (Kafka's DescribeAclsResponse.aclsResources).
  const byPattern = new Map<string, ResponseOf<'DescribeAcls'>['resources'][number]>();
  for (const acl of storedAcls(ctx)) {
    if (!filterMatches(filter, acl)) continue;
    const key = JSON.stringify([acl.resourceType, acl.resourceName, acl.patternType]);
    let resource = byPattern.get(key);
    if (!resource) {
      resource = { resourceType: acl.resourceType, resourceName: acl.resourceName, patternType: acl.patternType, acls: [] };
      byPattern.set(key, resource);
    }
    resource.acls.push({ principal: acl.principal, host: acl.host, operation: acl.operation, permissionType: acl.permissionType });
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, resources: [...byPattern.values()] };
}

export async function handleCreateAcls(req: RequestOf<'CreateAcls'>, ctx: RequestContext): Promise<ResponseOf<'CreateAcls'>> {
  const store = ctx.services.metadata;
  if (authorizerOf(ctx.services) === null || store.createAcls === undefined) {
    return { throttleTimeMs: 0, results: req.creations.map(() => ({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER })) };
  }
  const bindings: AclBinding[] = req.creations.map((c) => ({
    resourceType: c.resourceType,
    resourceName: c.resourceName,
    patternType: c.resourcePatternType,
    principal: c.principal,
    host: c.host,
    operation: c.operation,
    permissionType: c.permissionType,
  }));
  const problems = bindings.map(bindingProblem);
  const valid = bindings.filter((_, i) => problems[i] === null);
  let failure: { code: number; message: string } | null = null;
  if (valid.length > 0) {
    try {
      await store.createAcls(valid);
      for (const acl of valid) ctx.services.logger.info({ acl: describeBinding(acl), clientId: ctx.clientId }, 'ACL created');
    } catch (err) {
      failure = errorResponse(ctx, err, 'CreateAcls', { acls: valid.length });
    }
  }
  return {
    throttleTimeMs: 0,
    results: problems.map((problem) => {
      if (problem !== null) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem };
      return failure === null ? { errorCode: ErrorCode.NONE, errorMessage: null } : { errorCode: failure.code, errorMessage: failure.message };
    }),
  };
}

export async function handleDeleteAcls(req: RequestOf<'DeleteAcls'>, ctx: RequestContext): Promise<ResponseOf<'DeleteAcls'>> {
  const store = ctx.services.metadata;
  if (authorizerOf(ctx.services) === null || store.deleteAcls === undefined) {
    return { throttleTimeMs: 0, filterResults: req.filters.map(() => ({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER, matchingAcls: [] })) };
  }
  const stored = storedAcls(ctx);
  const filters = req.filters.map(filterOf);
  const problems = filters.map(filterProblem);
  const matches = filters.map((filter, i) => (problems[i] === null ? stored.filter((acl) => filterMatches(filter, acl)) : []));
  const doomed = [...new Set(matches.flat())];
  let failure: { code: number; message: string } | null = null;
  if (doomed.length > 0) {
    try {
      await store.deleteAcls(doomed);
      for (const acl of doomed) ctx.services.logger.info({ acl: describeBinding(acl), clientId: ctx.clientId }, 'ACL deleted');
    } catch (err) {
      failure = errorResponse(ctx, err, 'DeleteAcls', { acls: doomed.length });
    }
  }
  return {
    throttleTimeMs: 0,
    filterResults: filters.map((_, i) => {
      const problem = problems[i];
      if (problem !== null) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem, matchingAcls: [] };
      if (failure !== null) return { errorCode: failure.code, errorMessage: failure.message, matchingAcls: [] };
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        matchingAcls: matches[i].map((acl) => ({
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          resourceType: acl.resourceType,
          resourceName: acl.resourceName,
          patternType: acl.patternType,
          principal: acl.principal,
          host: acl.host,
          operation: acl.operation,
          permissionType: acl.permissionType,
        })),
      };
    }),
  };
}

export const aclApis = [
  defineApi({ apiKey: ApiKey.DescribeAcls, handler: handleDescribeAcls }),
  defineApi({ apiKey: ApiKey.CreateAcls, handler: handleCreateAcls }),
  defineApi({ apiKey: ApiKey.DeleteAcls, handler: handleDeleteAcls }),
];
