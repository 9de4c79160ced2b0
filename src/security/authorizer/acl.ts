// security/ room (authorizer): Kafka's ACL vocabulary — resource types, pattern types, operations,
// permission types with their wire codes and names — the ACL binding the metadata store keeps, and
// the filters DescribeAcls/DeleteAcls match bindings with (Kafka's AclBindingFilter semantics).
import type { AclRecord } from '../../cluster/index.js';

/** Kafka's ResourceType codes. */
export const ResourceType = {
  UNKNOWN: 0,
  ANY: 1,
  TOPIC: 2,
  GROUP: 3,
  CLUSTER: 4,
  TRANSACTIONAL_ID: 5,
  DELEGATION_TOKEN: 6,
  USER: 7,
} as const;
export type ResourceType = (typeof ResourceType)[keyof typeof ResourceType];

/** Kafka's PatternType codes (ANY and MATCH exist only in filters). */
export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;
export type PatternType = (typeof PatternType)[keyof typeof PatternType];

/** Kafka's AclOperation codes. */
export const AclOperation = {
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
  TWO_PHASE_COMMIT: 15,
} as const;
export type AclOperation = (typeof AclOperation)[keyof typeof AclOperation];

/** Kafka's AclPermissionType codes. */
export const AclPermissionType = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;
export type AclPermissionType = (typeof AclPermissionType)[keyof typeof AclPermissionType];

/** The one CLUSTER resource's name. */
export const CLUSTER_NAME = 'kafka-cluster';
/** A LITERAL resource name, principal ("User:*") or host that matches every one. */
export const WILDCARD = '*';
export const WILDCARD_PRINCIPAL = 'User:*';

/** One ACL: Kafka's AclBinding (resource pattern + access control entry), codes as on the wire. */
export type AclBinding = AclRecord;

/** Kafka's AclBindingFilter: null strings and ANY codes match everything; MATCH matches as the authorizer would. */
export interface AclBindingFilter {
  resourceType: number;
  resourceName: string | null;
  patternType: number;
  principal: string | null;
  host: string | null;
  operation: number;
  permissionType: number;
}

function nameOf(table: Record<string, number>, code: number): string {
  for (const [name, value] of Object.entries(table)) if (value === code) return name;
  return 'UNKNOWN';
}
export const resourceTypeName = (code: number): string => nameOf(ResourceType, code);
export const patternTypeName = (code: number): string => nameOf(PatternType, code);
export const operationName = (code: number): string => nameOf(AclOperation, code);
export const permissionTypeName = (code: number): string => nameOf(AclPermissionType, code);

const known = (table: Record<string, number>, code: number): boolean => Object.values(table).includes(code);

/** Kafka's ResourcePatternFilter.matches. */
function patternMatches(filter: AclBindingFilter, acl: AclBinding): boolean {
  if (filter.resourceType !== ResourceType.ANY && filter.resourceType !== acl.resourceType) return false;
  const pt = filter.patternType;
  if (pt !== PatternType.ANY && pt !== PatternType.MATCH && pt !== acl.patternType) return false;
  if (filter.resourceName === null) return true;
  if (pt === PatternType.ANY || pt === acl.patternType) return filter.resourceName === acl.resourceName;
  // MATCH: every stored pattern the named resource falls under.
  if (acl.patternType === PatternType.LITERAL) return filter.resourceName === acl.resourceName || acl.resourceName === WILDCARD;
  return acl.patternType === PatternType.PREFIXED && filter.resourceName.startsWith(acl.resourceName);
}

/** Kafka's AclBindingFilter.matches (resource pattern filter and access control entry filter). */
export function filterMatches(filter: AclBindingFilter, acl: AclBinding): boolean {
  if (!patternMatches(filter, acl)) return false;
  if (filter.principal !== null && filter.principal !== acl.principal) return false;
  if (filter.host !== null && filter.host !== acl.host) return false;
  if (filter.operation !== AclOperation.ANY && filter.operation !== acl.operation) return false;
  return filter.permissionType === AclPermissionType.ANY || filter.permissionType === acl.permissionType;
}

/** Why a filter is not usable (Kafka's "Unknown patternFilter." / "Unknown entryFilter."), or null. */
export function filterProblem(filter: AclBindingFilter): string | null {
  if (!known(ResourceType, filter.resourceType) || filter.resourceType === ResourceType.UNKNOWN) return 'Unknown patternFilter: resource type';
  if (!known(PatternType, filter.patternType) || filter.patternType === PatternType.UNKNOWN) return 'Unknown patternFilter: pattern type';
  if (!known(AclOperation, filter.operation) || filter.operation === AclOperation.UNKNOWN) return 'Unknown entryFilter: operation';
  if (!known(AclPermissionType, filter.permissionType) || filter.permissionType === AclPermissionType.UNKNOWN) return 'Unknown entryFilter: permission type';
  return null;
}

/** Why a new binding is refused with INVALID_REQUEST (Kafka's AclApis and AclControlManager checks), or null. */
export function bindingProblem(acl: AclBinding): string | null {
  if (!known(ResourceType, acl.resourceType) || acl.resourceType === ResourceType.UNKNOWN || acl.resourceType === ResourceType.ANY) {
    return `Invalid resourceType ${resourceTypeName(acl.resourceType)}`;
  }
  if (acl.patternType !== PatternType.LITERAL && acl.patternType !== PatternType.PREFIXED) return `Invalid patternType ${patternTypeName(acl.patternType)}`;
  if (!known(AclOperation, acl.operation) || acl.operation === AclOperation.UNKNOWN || acl.operation === AclOperation.ANY) {
    return `Invalid operation ${operationName(acl.operation)}`;
  }
  if (acl.permissionType !== AclPermissionType.ALLOW && acl.permissionType !== AclPermissionType.DENY) {
    return `Invalid permissionType ${permissionTypeName(acl.permissionType)}`;
  }
  if (acl.resourceType === ResourceType.CLUSTER && acl.resourceName !== CLUSTER_NAME) return `The only valid name for the CLUSTER resource is ${CLUSTER_NAME}`;
  if (acl.resourceName === '') return 'Invalid empty resource name';
  const at = acl.principal.indexOf(':');
  if (at <= 0 || at === acl.principal.length - 1) return `Invalid principal "${acl.principal}": expected Type:name, e.g. User:alice`;
  if (acl.host === '') return 'Invalid empty host';
  return null;
}

export function sameBinding(a: AclBinding, b: AclBinding): boolean {
  return (
    a.resourceType === b.resourceType &&
    a.resourceName === b.resourceName &&
    a.patternType === b.patternType &&
    a.principal === b.principal &&
    a.host === b.host &&
    a.operation === b.operation &&
    a.permissionType === b.permissionType
  );
}

/** As Kafka's authorizer logs a binding. */
export function describeBinding(acl: AclBinding): string {
  return (
    `(principal=${acl.principal}, host=${acl.host}, op=${operationName(acl.operation)}, permissionType=${permissionTypeName(acl.permissionType)}) ` +
    `on ${resourceTypeName(acl.resourceType)}:${patternTypeName(acl.patternType)}:${acl.resourceName}`
  );
}
