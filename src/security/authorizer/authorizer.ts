// security/ room (authorizer): Kafka's StandardAuthorizer decision — super users first, then the
// ACLs of the resource (literal name, prefixes of it, the literal '*'), any matching DENY wins over
// every ALLOW, READ/WRITE/DELETE/ALTER allow DESCRIBE and ALTER_CONFIGS allows DESCRIBE_CONFIGS,
// and a resource with no ACL at all falls to allow.everyone.if.no.acl.found. Denials of explicitly
// requested resources are logged at info as kafka.authorizer.logger does.
import { principalToString, type KafkaPrincipal } from '../types.js';
import {
  AclOperation,
  AclPermissionType,
  PatternType,
  ResourceType,
  WILDCARD,
  WILDCARD_PRINCIPAL,
  describeBinding,
  operationName,
  patternTypeName,
  resourceTypeName,
  type AclBinding,
} from './acl.js';

/** What the authorizer logs through (pino's Logger fits). */
export interface AuthorizerLogger {
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface AuthorizerSettings {
  /** super.users: principals ("User:admin") allowed everything. */
  superUsers: ReadonlySet<string>;
  /** allow.everyone.if.no.acl.found: a resource without any ACL is open to all. */
  allowEveryoneIfNoAclFound: boolean;
}

/** Who asks: the connection's principal and client address, and the API (for the audit log). */
export interface Requester {
  principal: KafkaPrincipal;
  /** The client's address (no port), as ACL hosts name it. */
  host: string;
  api: string;
}

export interface Action {
  operation: AclOperation;
  resourceType: ResourceType;
  resourceName: string;
  /** Log a denial at info (Kafka's logIfDenied): false for filters (all-topics Metadata, ListGroups). */
  logIfDenied?: boolean;
  /** Log a grant at debug (Kafka's logIfAllowed). */
  logIfAllowed?: boolean;
}

/** Operations that may appear in a bitfield of authorized operations, per resource type (Kafka's supportedOperations). */
const SUPPORTED_OPERATIONS: ReadonlyMap<number, readonly AclOperation[]> = new Map<number, readonly AclOperation[]>([
  [ResourceType.TOPIC, [AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DESCRIBE, AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS]],
  [ResourceType.GROUP, [AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS]],
  [
    ResourceType.CLUSTER,
    [
      AclOperation.CREATE,
      AclOperation.CLUSTER_ACTION,
      AclOperation.DESCRIBE_CONFIGS,
      AclOperation.ALTER_CONFIGS,
      AclOperation.IDEMPOTENT_WRITE,
      AclOperation.ALTER,
      AclOperation.DESCRIBE,
    ],
  ],
  [ResourceType.TRANSACTIONAL_ID, [AclOperation.DESCRIBE, AclOperation.WRITE, AclOperation.TWO_PHASE_COMMIT]],
  [ResourceType.DELEGATION_TOKEN, [AclOperation.DESCRIBE]],
  [ResourceType.USER, [AclOperation.CREATE_TOKENS, AclOperation.DESCRIBE_TOKENS]],
]);

const IMPLIES_DESCRIBE: ReadonlySet<number> = new Set([AclOperation.DESCRIBE, AclOperation.READ, AclOperation.WRITE, AclOperation.DELETE, AclOperation.ALTER]);
const IMPLIES_DESCRIBE_CONFIGS: ReadonlySet<number> = new Set([AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS]);

/** The ACLs of one resource type, by how they match a name. */
interface TypeIndex {
  /** LITERAL bindings by name ('*' included). */
  literal: Map<string, AclBinding[]>;
  prefixed: AclBinding[];
}

/** Does `acl` (whose resource pattern already matched) apply to this principal, host and operation? */
function entryResult(acl: AclBinding, principals: readonly string[], host: string, operation: number): 'allow' | 'deny' | null {
  if (!principals.includes(acl.principal)) return null;
  if (acl.host !== WILDCARD && acl.host !== host) return null;
  if (acl.operation !== AclOperation.ALL) {
    if (acl.permissionType === AclPermissionType.ALLOW) {
      // Implied operations apply to ALLOW only: a DENY on READ does not deny DESCRIBE.
      if (operation === AclOperation.DESCRIBE) {
        if (!IMPLIES_DESCRIBE.has(acl.operation)) return null;
      } else if (operation === AclOperation.DESCRIBE_CONFIGS) {
        if (!IMPLIES_DESCRIBE_CONFIGS.has(acl.operation)) return null;
      } else if (acl.operation !== operation) {
        return null;
      }
    } else if (acl.operation !== operation) {
      return null;
    }
  }
  return acl.permissionType === AclPermissionType.ALLOW ? 'allow' : 'deny';
}

/**
 * An IPv6 address (no brackets, optional %zone) as Java's InetAddress.getHostAddress() writes it,
 * which is what Kafka matches ACL hosts against: eight groups in lowercase hex without leading
 * zeros and without "::" compression (0:0:0:0:0:0:0:1). An IPv4-mapped address (::ffff:a.b.c.d,
 * in either notation) is an Inet4Address in Java, written a.b.c.d. Null when `addr` is not IPv6.
 */
function javaIpv6HostAddress(addr: string): string | null {
  const pct = addr.indexOf('%');
  const ip = pct < 0 ? addr : addr.slice(0, pct);
  const zone = pct < 0 ? '' : addr.slice(pct);
  if (!ip.includes(':')) return null;
  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] ?? '';
      if (i === pieces.length - 1 && piece.includes('.')) {
        // An embedded IPv4 tail: two groups.
        const octets = piece.split('.').map((o) => (/^\d{1,3}$/.test(o) ? Number(o) : NaN));
        if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255))) return null;
        const [a = 0, b = 0, c = 0, d = 0] = octets;
        out.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groupsOf(halves[0] ?? '');
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? '') : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return groups.map((g) => g.toString(16)).join(':') + zone;
}

/**
 * The client address of "addr:port" in the form Kafka matches ACL hosts against (Java's
 * getHostAddress()): IPv4 as is, IPv6 uncompressed (0:0:0:0:0:0:0:1), IPv4-mapped IPv6 as IPv4.
 */
export function clientAddress(clientHost: string): string {
  const at = clientHost.lastIndexOf(':');
  const addr = at < 0 ? clientHost : clientHost.slice(0, at);
  const bare = addr.startsWith('[') && addr.endsWith(']') ? addr.slice(1, -1) : addr;
  return javaIpv6HostAddress(bare) ?? bare;
}

export class AclAuthorizer {
  private indexedFrom: readonly AclBinding[] | null = null;
  private index = new Map<number, TypeIndex>();

  constructor(
    /** The stored ACLs; the same array until they change. */
    private readonly acls: () => readonly AclBinding[],
    readonly settings: AuthorizerSettings,
    private readonly logger: AuthorizerLogger,
  ) {}

  private typeIndex(resourceType: number): TypeIndex | undefined {
    const current = this.acls();
    if (current !== this.indexedFrom) {
      const index = new Map<number, TypeIndex>();
      for (const acl of current) {
        let byType = index.get(acl.resourceType);
        if (!byType) {
          byType = { literal: new Map(), prefixed: [] };
          index.set(acl.resourceType, byType);
        }
        if (acl.patternType === PatternType.PREFIXED) byType.prefixed.push(acl);
        else if (acl.patternType === PatternType.LITERAL) {
          const list = byType.literal.get(acl.resourceName);
          if (list) list.push(acl);
          else byType.literal.set(acl.resourceName, [acl]);
        }
      }
      this.index = index;
      this.indexedFrom = current;
    }
    return this.index.get(resourceType);
  }

  isSuperUser(principal: KafkaPrincipal): boolean {
    return this.settings.superUsers.has(principalToString(principal));
  }

  /** StandardAuthorizer.authorize for one action: true when allowed. */
  authorize(requester: Requester, action: Action): boolean {
    const { decision, rule } = this.decide(requester, action);
    this.audit(requester, action, decision, rule);
    return decision;
  }

  private decide(requester: Requester, action: Action): { decision: boolean; rule: string } {
    if (this.isSuperUser(requester.principal)) return { decision: true, rule: 'SuperUser' };
    const principals = [principalToString(requester.principal), WILDCARD_PRINCIPAL];
    const byType = this.typeIndex(action.resourceType);
    const candidates: AclBinding[] = [];
    if (byType) {
      candidates.push(...(byType.literal.get(action.resourceName) ?? []));
      if (action.resourceName !== WILDCARD) candidates.push(...(byType.literal.get(WILDCARD) ?? []));
      for (const acl of byType.prefixed) if (action.resourceName.startsWith(acl.resourceName)) candidates.push(acl);
    }
    let allow: AclBinding | null = null;
    for (const acl of candidates) {
      const result = entryResult(acl, principals, requester.host, action.operation);
      if (result === 'deny') return { decision: false, rule: `MatchingAcl(acl=${describeBinding(acl)})` };
      if (result === 'allow') allow ??= acl;
    }
    if (allow) return { decision: true, rule: `MatchingAcl(acl=${describeBinding(allow)})` };
    // Only a resource with no ACL at all (for anyone) falls to the default.
    if (candidates.length === 0 && this.settings.allowEveryoneIfNoAclFound) return { decision: true, rule: 'DefaultAllow' };
    return { decision: false, rule: 'DefaultDeny' };
  }

  private audit(requester: Requester, action: Action, allowed: boolean, rule: string): void {
    const resource = `${resourceTypeName(action.resourceType)}:${patternTypeName(PatternType.LITERAL)}:${action.resourceName}`;
    const principal = principalToString(requester.principal);
    const operation = operationName(action.operation);
    const fields = { principal, operation, resource, host: requester.host, api: requester.api, rule };
    const text = `Principal = ${principal} is ${allowed ? 'Allowed' : 'Denied'} operation = ${operation} from host = ${requester.host} on resource = ${resource} for request = ${requester.api} based on rule ${rule}`;
    if (!allowed && action.logIfDenied !== false) this.logger.info(fields, text);
    else if (allowed && action.logIfAllowed === true) this.logger.debug(fields, text);
  }

  /**
   * Kafka's Authorizer.authorizeByResourceType: may the requester do `operation` on at least one
   * resource of the type? (InitProducerId without a transactional id: WRITE on any topic.)
   */
  authorizeByResourceType(requester: Requester, operation: AclOperation, resourceType: ResourceType): boolean {
    // A hard-coded name: super users (and allow.everyone.if.no.acl.found) pass whatever DENYs say.
    if (this.decide(requester, { operation, resourceType, resourceName: 'hardcode' }).decision) return true;
    const principals = [principalToString(requester.principal), WILDCARD_PRINCIPAL];
    const denyLiteral = new Set<string>();
    const denyPrefixed = new Set<string>();
    const allowLiteral: string[] = [];
    const allowPrefixed: string[] = [];
    for (const acl of this.acls()) {
      if (acl.resourceType !== resourceType) continue;
      if (acl.host !== requester.host && acl.host !== WILDCARD) continue;
      if (!principals.includes(acl.principal)) continue;
      if (acl.operation !== operation && acl.operation !== AclOperation.ALL) continue;
      const literal = acl.patternType === PatternType.LITERAL;
      if (acl.permissionType === AclPermissionType.DENY) {
        if (literal && acl.resourceName === WILDCARD) return false;
        (literal ? denyLiteral : denyPrefixed).add(acl.resourceName);
      } else if (acl.permissionType === AclPermissionType.ALLOW) {
        if (literal && acl.resourceName === WILDCARD) return true;
        (literal ? allowLiteral : allowPrefixed).push(acl.resourceName);
      }
    }
    const dominatedByPrefixDeny = (name: string): boolean => {
      for (let i = 1; i <= name.length; i++) if (denyPrefixed.has(name.slice(0, i))) return true;
      return false;
    };
    for (const name of allowLiteral) if (!denyLiteral.has(name) && !dominatedByPrefixDeny(name)) return true;
    for (const name of allowPrefixed) if (!dominatedByPrefixDeny(name)) return true;
    return false;
  }

  /** The bitfield of operations allowed on a resource (Kafka's authorizedOperations: bit = operation code). */
  authorizedOperations(requester: Requester, resourceType: ResourceType, resourceName: string): number {
    let bits = 0;
    for (const operation of SUPPORTED_OPERATIONS.get(resourceType) ?? []) {
      if (this.decide(requester, { operation, resourceType, resourceName }).decision) bits |= 1 << operation;
    }
    return bits;
  }
}
