// replication/ room: how this broker reaches other brokers — on inter.broker.listener.name, at
// that listener's advertised address in the other broker's registration, over TLS when the
// listener is SSL or SASL_SSL, authenticated with SASL (PLAIN, SCRAM) when it is SASL_PLAINTEXT or
// SASL_SSL. Used by the replica fetchers and every other broker-to-broker request.
import { brokerEndpoint, type BrokerRegistration } from '../cluster/index.js';
import type { BrokerConfig } from '../config/index.js';
import { clientTlsOptions, type BrokerConnectionOptions, type TlsSettings } from '../network/index.js';
import { interBrokerSaslCredentials, type SaslClientCredentials } from '../security/sasl/index.js';

export interface InterBrokerRoute {
  listenerName: string;
  securityProtocol: string;
  /** The listener's ssl.* settings when it is SSL or SASL_SSL (truststore, and keystore for mTLS). */
  tls: TlsSettings | null;
  /** SASL between brokers: sasl.mechanism.inter.broker.protocol and this broker's credentials from the listener's JAAS config. */
  sasl: SaslClientCredentials | null;
  /** A SASL listener taken by default (every listener is SASL, no inter-broker setting): other brokers cannot be reached. */
  unreachable: boolean;
}

/** What to spread into BrokerConnection.open for another broker. */
export type InterBrokerAddress = Pick<BrokerConnectionOptions, 'host' | 'port' | 'tls' | 'sasl'>;

const routes = new WeakMap<BrokerConfig, InterBrokerRoute>();

/**
 * The inter-broker listener and how to speak to it (computed once per config). A SASL listener
 * chosen for inter-broker traffic authenticates with sasl.mechanism.inter.broker.protocol and the
 * username/password of the listener's JAAS config; a mechanism Spool cannot speak (GSSAPI,
 * OAUTHBEARER) or missing credentials throw ConfigError at start (broker-config.ts,
 * security/sasl/client.ts). A SASL listener taken only by default (every listener is SASL, fine
 * for a single broker) leaves other brokers unreachable, logged by whoever tries.
 */
export function interBrokerRoute(config: BrokerConfig): InterBrokerRoute {
  const cached = routes.get(config);
  if (cached !== undefined) return cached;
  const listener = config.interBrokerListener();
  const isSasl = listener.securityProtocol === 'SASL_PLAINTEXT' || listener.securityProtocol === 'SASL_SSL';
  const sasl = interBrokerSaslCredentials(config);
  const route: InterBrokerRoute = {
    listenerName: listener.name,
    securityProtocol: listener.securityProtocol,
    tls: listener.securityProtocol === 'SSL' || listener.securityProtocol === 'SASL_SSL' ? config.sslSettings(listener.name) : null,
    sasl,
    unreachable: isSasl && sasl === null,
  };
  routes.set(config, route);
  return route;
}

/** Where and how to connect to `broker` for inter-broker traffic; null when it has no such listener. */
export function interBrokerAddress(route: InterBrokerRoute, broker: BrokerRegistration): InterBrokerAddress | null {
  const at = route.unreachable ? null : brokerEndpoint(broker, route.listenerName);
  if (at === null) return null;
  return {
    ...at,
    ...(route.tls === null ? {} : { tls: clientTlsOptions(route.tls, at.host) }),
    ...(route.sasl === null ? {} : { sasl: route.sasl }),
  };
}

/**
 * interBrokerAddress from the config, for occasional requests (forwarding, transaction markers,
 * share state). When the peer has no endpoint on the inter-broker listener: its registration's
 * primary address if the inter-broker listener is PLAINTEXT, else null — a route that needs TLS or
 * SASL never falls back to a connection without them (nor does an unreachable one).
 */
export function peerAddress(config: BrokerConfig, broker: BrokerRegistration): InterBrokerAddress | null {
  const route = interBrokerRoute(config);
  const address = interBrokerAddress(route, broker);
  if (address !== null) return address;
  if (route.unreachable || route.tls !== null || route.sasl !== null || route.securityProtocol !== 'PLAINTEXT') return null;
  return { host: broker.host, port: broker.port };
}

/** Why peerAddress gave null, for the caller's error. */
export function noPeerAddressReason(config: BrokerConfig, broker: BrokerRegistration): string {
  const route = interBrokerRoute(config);
  return route.unreachable
    ? `broker ${String(broker.nodeId)} cannot be reached: the inter-broker listener ${route.listenerName} is SASL but no inter-broker SASL is configured (sasl.mechanism.inter.broker.protocol)`
    : `broker ${String(broker.nodeId)} has no endpoint on the inter-broker listener ${route.listenerName} (${route.securityProtocol}); not falling back to an unprotected listener`;
}
