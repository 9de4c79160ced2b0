// security/ room: the shared vocabulary of listeners, authentication and authorization — the
// security protocol a listener speaks, the principal a connection acts as, and the per-connection
// security state the network layer owns and the SASL authenticator moves forward.

/** Kafka's security protocols (listener.security.protocol.map values). */
export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';

export const SECURITY_PROTOCOLS: readonly SecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];

/** Kafka's KafkaPrincipal: a type ("User") and a name. */
export interface KafkaPrincipal {
  principalType: string;
  name: string;
}

/** The principal of an unauthenticated connection (PLAINTEXT, or SSL without a client certificate). */
export const ANONYMOUS: KafkaPrincipal = Object.freeze({ principalType: 'User', name: 'ANONYMOUS' });

/** "User:alice", as ACLs, super.users and logs write a principal. */
export function principalToString(p: KafkaPrincipal): string {
  return `${p.principalType}:${p.name}`;
}

/** Parses "Type:name" (the name may contain colons); throws on text without a type. */
export function parsePrincipal(text: string): KafkaPrincipal {
  const at = text.indexOf(':');
  if (at <= 0) throw new Error(`"${text}" is not a principal (Type:name, e.g. User:alice)`);
  return { principalType: text.slice(0, at), name: text.slice(at + 1) };
}

/**
 * One connection's security state. The network layer creates it from the listener the connection
 * arrived on (with the TLS peer's principal on SSL listeners); the SASL authenticator sets
 * `principal`, `authenticated` and `sessionExpiresAtMs`; the authorizer reads `principal`.
 */
export interface ConnectionSecurity {
  /** The listener's name, e.g. PLAINTEXT, INTERNAL, SASL_SSL. */
  listenerName: string;
  securityProtocol: SecurityProtocol;
  principal: KafkaPrincipal;
  /** False on a SASL listener until SaslAuthenticate succeeds; true elsewhere. */
  authenticated: boolean;
  /** KIP-368: when the SASL session ends (ms since the epoch); undefined = never. */
  sessionExpiresAtMs?: number;
  /** State private to the SASL authenticator (mechanism, SCRAM nonce, ...). */
  sasl?: unknown;
}

/** The security state of a PLAINTEXT connection (what every connection had before listeners). */
export function plaintextSecurity(listenerName = 'PLAINTEXT'): ConnectionSecurity {
  return { listenerName, securityProtocol: 'PLAINTEXT', principal: ANONYMOUS, authenticated: true };
}
