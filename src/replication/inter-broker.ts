// replication/ room: how this broker reaches other brokers — on inter.broker.listener.name, at
// that listener's advertised address in the other broker's registration, over TLS when the
// listener is SSL. Used by the replica fetchers and every other broker-to-broker request.
import { brokerEndpoint, type BrokerRegistration } from '../cluster/index.js';
import type { BrokerConfig } from '../config/index.js';
import { clientTlsOptions, type BrokerConnectionOptions, type TlsSettings } from '../network/index.js';

export interface InterBrokerRoute {
  listenerName: string;
  securityProtocol: string;
  /** The listener's ssl.* settings when it is SSL (truststore, and keystore for mTLS). */
  tls: TlsSettings | null;
  /** A SASL listener by default (every listener is SASL): other brokers cannot be reached. */
  unreachable: boolean;
}

/**
 * The inter-broker listener and how to speak to it. Spool brokers have no SASL client to
 * authenticate to each other with: a SASL inter-broker listener named in the config is refused
 * at start (broker-config.ts); one taken by default (every listener is SASL, fine for a single
 * broker) leaves other brokers unreachable, logged by whoever tries.
 */
export function interBrokerRoute(config: BrokerConfig): InterBrokerRoute {
  const listener = config.interBrokerListener();
  const sasl = listener.securityProtocol === 'SASL_PLAINTEXT' || listener.securityProtocol === 'SASL_SSL';
  if (sasl && (config.has('inter.broker.listener.name') || config.has('security.inter.broker.protocol'))) {
    throw new Error(
      `inter-broker listener ${listener.name} is ${listener.securityProtocol}: Spool brokers cannot authenticate to each other with SASL yet; use a PLAINTEXT or SSL listener for inter-broker traffic`,
    );
  }
  return {
    listenerName: listener.name,
    securityProtocol: listener.securityProtocol,
    tls: listener.securityProtocol === 'SSL' ? config.sslSettings(listener.name) : null,
    unreachable: sasl,
  };
}

/** Where and how to connect to `broker` for inter-broker traffic; null when it has no such listener. */
export function interBrokerAddress(route: InterBrokerRoute, broker: BrokerRegistration): Pick<BrokerConnectionOptions, 'host' | 'port' | 'tls'> | null {
  const at = route.unreachable ? null : brokerEndpoint(broker, route.listenerName);
  if (at === null) return null;
  return route.tls === null ? at : { ...at, tls: clientTlsOptions(route.tls, at.host) };
}

/** interBrokerAddress from the config, for occasional requests (forwarding, transaction markers); the registration's primary address when it has no inter-broker endpoint. */
export function peerAddress(config: BrokerConfig, broker: BrokerRegistration): Pick<BrokerConnectionOptions, 'host' | 'port' | 'tls'> {
  return interBrokerAddress(interBrokerRoute(config), broker) ?? { host: broker.host, port: broker.port };
}
