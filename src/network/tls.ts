// network/ room: TLS for SSL listeners and for connections to other brokers over an SSL
// inter-broker listener — Kafka's ssl.* settings (PEM keystores and truststores, PKCS12 keystores,
// ssl.client.auth, enabled protocols, cipher suites) turned into node:tls options, the principal
// of a verified client certificate, and the files to watch for certificate reload.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions as TlsConnectOptions, SecureContextOptions, TLSSocket, SecureVersion } from 'node:tls';

/** One listener's ssl.* settings (listener.name.<name>.ssl.* over ssl.*), as the config layer resolves them. */
export interface TlsSettings {
  listenerName: string;
  keystoreType: string;
  keystoreLocation: string | null;
  keystorePassword: string | null;
  keystoreKey: string | null;
  keystoreCertificateChain: string | null;
  keyPassword: string | null;
  truststoreType: string;
  truststoreLocation: string | null;
  truststoreCertificates: string | null;
  clientAuth: 'none' | 'requested' | 'required';
  enabledProtocols: string[];
  cipherSuites: string[];
  endpointIdentification: boolean;
}

/** A TLS setting that cannot work; says which setting (with the listener prefix) and why. */
export class TlsConfigError extends Error {
  constructor(settings: TlsSettings, key: string, problem: string) {
    super(`listener ${settings.listenerName}: ${key} (or listener.name.${settings.listenerName.toLowerCase()}.${key}): ${problem}`);
    this.name = 'TlsConfigError';
  }
}

export interface LoadedTls {
  /** Key, certificates, CAs, versions and ciphers, read now. */
  context: SecureContextOptions;
  /** The files the context was read from (watched for reload). */
  files: string[];
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

function pemBlocks(text: string): Array<{ label: string; pem: string }> {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1], pem: m[0] }));
}

function readText(settings: TlsSettings, key: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new TlsConfigError(settings, key, `cannot read ${path}: ${(err as Error).message}`);
  }
}

/** ssl.enabled.protocols as node's min/max version (Node negotiates a range, not a set). */
function versionRange(settings: TlsSettings): { minVersion: SecureVersion; maxVersion: SecureVersion } {
  const known: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
  const enabled = settings.enabledProtocols.length > 0 ? settings.enabledProtocols : ['TLSv1.2', 'TLSv1.3'];
  const indexes = enabled.map((p) => {
    const i = known.indexOf(p as SecureVersion);
    if (i < 0) throw new TlsConfigError(settings, 'ssl.enabled.protocols', `${p} is not one of ${known.join(', ')}`);
    return i;
  });
  return { minVersion: known[Math.min(...indexes)], maxVersion: known[Math.max(...indexes)] };
}

/** The keystore: a PEM key + chain (file or inline), or a PKCS12 file. Null when none is configured. */
function loadKeystore(settings: TlsSettings, files: string[]): SecureContextOptions | null {
  const type = settings.keystoreType.toUpperCase();
  const passphrase = settings.keyPassword ?? undefined;
  if (settings.keystoreKey !== null || settings.keystoreCertificateChain !== null) {
    if (settings.keystoreKey === null || settings.keystoreCertificateChain === null) {
      throw new TlsConfigError(settings, 'ssl.keystore.key', 'ssl.keystore.key and ssl.keystore.certificate.chain go together');
    }
    if (type !== 'PEM') throw new TlsConfigError(settings, 'ssl.keystore.type', 'inline keys (ssl.keystore.key) need ssl.keystore.type=PEM');
    return { key: settings.keystoreKey, cert: settings.keystoreCertificateChain, passphrase };
  }
  if (settings.keystoreLocation === null) return null;
  files.push(settings.keystoreLocation);
  if (type === 'PKCS12') {
    let pfx: Buffer;
    try {
      pfx = readFileSync(settings.keystoreLocation);
    } catch (err) {
      throw new TlsConfigError(settings, 'ssl.keystore.location', `cannot read ${settings.keystoreLocation}: ${(err as Error).message}`);
    }
    return { pfx, passphrase: settings.keystorePassword ?? passphrase };
  }
  if (type !== 'PEM') {
    throw new TlsConfigError(settings, 'ssl.keystore.type', `${type} keystores are not supported by Spool; use ssl.keystore.type=PEM (key and certificate chain in one file) or PKCS12`);
  }
  const blocks = pemBlocks(readText(settings, 'ssl.keystore.location', settings.keystoreLocation));
  const keys = blocks.filter((b) => b.label.endsWith('PRIVATE KEY'));
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
  if (keys.length !== 1 || certs.length === 0) {
    throw new TlsConfigError(settings, 'ssl.keystore.location', `${settings.keystoreLocation} must hold one private key and its certificate chain in PEM (found ${keys.length} keys, ${certs.length} certificates)`);
  }
  return { key: keys[0].pem, cert: certs.map((c) => c.pem).join('\n'), passphrase };
}

/** The truststore: PEM certificates (file or inline). Null: the system CAs. */
function loadTruststore(settings: TlsSettings, files: string[]): string | null {
  if (settings.truststoreCertificates !== null) return settings.truststoreCertificates;
  if (settings.truststoreLocation === null) return null;
  if (settings.truststoreType.toUpperCase() !== 'PEM') {
    throw new TlsConfigError(settings, 'ssl.truststore.type', `${settings.truststoreType} truststores are not supported by Spool; use ssl.truststore.type=PEM`);
  }
  files.push(settings.truststoreLocation);
  const text = readText(settings, 'ssl.truststore.location', settings.truststoreLocation);
  if (!pemBlocks(text).some((b) => b.label === 'CERTIFICATE')) {
    throw new TlsConfigError(settings, 'ssl.truststore.location', `${settings.truststoreLocation} holds no PEM certificate`);
  }
  return text;
}

function loadContext(settings: TlsSettings, needKeystore: boolean): LoadedTls {
  const files: string[] = [];
  const keystore = loadKeystore(settings, files);
  if (keystore === null && needKeystore) {
    throw new TlsConfigError(settings, 'ssl.keystore.location', 'an SSL listener needs a keystore: ssl.keystore.type=PEM with ssl.keystore.location, or ssl.keystore.key and ssl.keystore.certificate.chain');
  }
  const ca = loadTruststore(settings, files);
  const context: SecureContextOptions = { ...keystore, ...versionRange(settings) };
  if (ca !== null) context.ca = ca;
  if (settings.cipherSuites.length > 0) context.ciphers = settings.cipherSuites.join(':');
  return { context, files };
}

/**
 * Reads a listener's key, certificates and CAs. Throws TlsConfigError naming the setting when
 * they cannot work; a key that does not match its certificate fails here too (node checks it).
 */
export function loadServerTls(settings: TlsSettings): LoadedTls {
  const loaded = loadContext(settings, true);
  if (settings.clientAuth !== 'none' && loaded.context.ca === undefined) {
    throw new TlsConfigError(settings, 'ssl.truststore.location', `ssl.client.auth=${settings.clientAuth} needs a truststore (ssl.truststore.type=PEM with ssl.truststore.location or ssl.truststore.certificates) to verify client certificates`);
  }
  return loaded;
}

/** requestCert / rejectUnauthorized for ssl.client.auth; `requested` refuses untrusted certificates itself (see peerPrincipalName). */
export function clientAuthOptions(clientAuth: TlsSettings['clientAuth']): { requestCert: boolean; rejectUnauthorized: boolean } {
  return { requestCert: clientAuth !== 'none', rejectUnauthorized: clientAuth === 'required' };
}

/**
 * A subject as Java's X500Principal.getName() (RFC 2253) writes it, which is what Kafka's
 * DEFAULT principal mapping uses: most specific RDN first, comma-separated, RFC 2253 escapes.
 * Node lists RDNs one a line in certificate order with the same escapes. Attributes Java has no
 * keyword for (e.g. emailAddress) keep OpenSSL's short name here where Java writes the OID.
 */
export function rfc2253Subject(cert: X509Certificate): string {
  return cert.subject
    .split('\n')
    .filter((line) => line !== '')
    .reverse()
    .map((rdn) => rdn.replace(/ \+ /g, '+'))
    .join(',');
}

/**
 * What a finished handshake means for the connection: the client certificate's subject when it
 * was verified, null for no certificate, or a refusal when an untrusted one was presented
 * (ssl.client.auth=requested: node lets it through, Kafka's SSLEngine does not).
 */
export function peerIdentity(socket: TLSSocket): { subject: string | null } | { refused: string } {
  const cert = socket.getPeerX509Certificate();
  if (cert === undefined) return { subject: null };
  if (!socket.authorized) return { refused: `client certificate not trusted: ${String(socket.authorizationError)}` };
  return { subject: rfc2253Subject(cert) };
}

/** Options for a TLS connection to another broker on an SSL inter-broker listener. */
export function clientTlsOptions(settings: TlsSettings, host: string): TlsConnectOptions {
  const { context } = loadContext(settings, false);
  const options: TlsConnectOptions = { ...context, rejectUnauthorized: true };
  if (isIP(host) === 0) options.servername = host;
  if (!settings.endpointIdentification) options.checkServerIdentity = () => undefined;
  return options;
}
