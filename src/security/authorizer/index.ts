// security/ room (authorizer): public surface, and the authorizer a broker runs with as its
// settings say (authorizer.class.name, super.users, allow.everyone.if.no.acl.found).
import type { MetadataStore } from '../../cluster/index.js';
import type { BrokerConfig } from '../../config/index.js';
import { AclAuthorizer, type AuthorizerLogger } from './authorizer.js';

export * from './acl.js';
export * from './authorizer.js';

const NO_ACLS: readonly never[] = Object.freeze([]);

/** super.users as a set of "Type:name" strings. */
export function parseSuperUsers(value: string | null): Set<string> {
  return new Set((value ?? '').split(';').map((p) => p.trim()).filter((p) => p !== ''));
}

/** The ACL authorizer when authorizer.class.name names one (validated by the config schema), else null. */
export function authorizerFromConfig(config: BrokerConfig, metadata: MetadataStore, logger: AuthorizerLogger): AclAuthorizer | null {
  if (config.getString('authorizer.class.name').trim() === '') return null;
  const superUsers = config.get('super.users');
  return new AclAuthorizer(() => metadata.acls?.() ?? NO_ACLS, {
    superUsers: parseSuperUsers(typeof superUsers === 'string' ? superUsers : null),
    allowEveryoneIfNoAclFound: config.getBoolean('allow.everyone.if.no.acl.found'),
  }, logger);
}
