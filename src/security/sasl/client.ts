// security/ room: the client side of SASL for Spool's own connections to other brokers — PLAIN,
// SCRAM-SHA-256 and SCRAM-SHA-512 over SaslHandshake v1 + SaslAuthenticate v2 (the server's final
// SCRAM signature is checked, so a broker that does not know the password cannot pass as one).
// Works over any connection with a typed request() (network/client.ts BrokerConnection).
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScramMechanismName } from '../../cluster/index.js';
import { ConfigError, type BrokerConfig } from '../../config/index.js';
import { ErrorCode, KafkaError } from '../../errors.js';
import { ApiKey, type DecodedResponseFor, type KnownApiKey, type RequestInputFor } from '../../protocol/index.js';
import { parseJaasConfig, PLAIN_LOGIN_MODULE } from './jaas.js';
import { SCRAM_MAX_ITERATIONS, SCRAM_MIN_ITERATIONS } from './scram.js';

export const SCRAM_LOGIN_MODULE = 'org.apache.kafka.common.security.scram.ScramLoginModule';

export interface SaslClientCredentials {
  mechanism: 'PLAIN' | ScramMechanismName;
  username: string;
  password: string;
}

/** What the SASL client needs of a connection. */
export interface SaslRequester {
  request<K extends KnownApiKey>(apiKey: K, apiVersion: number, body: RequestInputFor<K>, timeoutMs: number): Promise<DecodedResponseFor<K>>;
}

function refused(message: string): KafkaError {
  return new KafkaError(ErrorCode.SASL_AUTHENTICATION_FAILED, message);
}

interface ScramClientKeys {
  clientKey: Buffer;
  serverKey: Buffer;
}

/**
 * ClientKey and ServerKey by mechanism, password, salt and iterations: re-authentication and the
 * connections a broker opens again and again to the same peers derive them once. Bounded: the
 * oldest entry goes first.
 */
const scramKeyCache = new Map<string, Promise<ScramClientKeys>>();
const SCRAM_KEY_CACHE_SIZE = 64;

/** Hi() (PBKDF2) on the thread pool, not the event loop, remembered (see scramKeyCache). */
function scramClientKeys(mechanism: ScramMechanismName, password: string, salt: Buffer, iterations: number): Promise<ScramClientKeys> {
  const hash = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
  const key = createHash('sha256').update(`${mechanism}\u0000${String(iterations)}\u0000${salt.toString('base64')}\u0000`).update(password, 'utf8').digest('base64');
  const cached = scramKeyCache.get(key);
  if (cached !== undefined) return cached;
  const derived = new Promise<ScramClientKeys>((resolve, reject) => {
    pbkdf2(Buffer.from(password, 'utf8'), salt, iterations, mechanism === 'SCRAM-SHA-256' ? 32 : 64, hash, (err, salted) => {
      if (err) reject(err);
      else resolve({ clientKey: createHmac(hash, salted).update('Client Key').digest(), serverKey: createHmac(hash, salted).update('Server Key').digest() });
    });
  });
  derived.catch(() => scramKeyCache.delete(key));
  if (scramKeyCache.size >= SCRAM_KEY_CACHE_SIZE) {
    const oldest = scramKeyCache.keys().next();
    if (oldest.done !== true) scramKeyCache.delete(oldest.value);
  }
  scramKeyCache.set(key, derived);
  return derived;
}

/** Authenticates `conn`; resolves with the session lifetime the broker gave (0: unbounded). */
export async function saslClientAuthenticate(conn: SaslRequester, creds: SaslClientCredentials, timeoutMs: number): Promise<{ sessionLifetimeMs: number }> {
  const handshake = await conn.request(ApiKey.SaslHandshake, 1, { mechanism: creds.mechanism }, timeoutMs);
  if (handshake.errorCode !== ErrorCode.NONE) {
    throw new KafkaError(handshake.errorCode, `SaslHandshake ${creds.mechanism} refused (the broker offers ${handshake.mechanisms.join(', ') || 'none'})`);
  }
  const step = async (authBytes: Buffer): Promise<{ authBytes: Buffer; sessionLifetimeMs: number }> => {
    const r = await conn.request(ApiKey.SaslAuthenticate, 2, { authBytes }, timeoutMs);
    if (r.errorCode !== ErrorCode.NONE) throw new KafkaError(r.errorCode, r.errorMessage ?? `SaslAuthenticate failed with error ${r.errorCode}`);
    return { authBytes: r.authBytes, sessionLifetimeMs: r.sessionLifetimeMs };
  };
  if (creds.mechanism === 'PLAIN') {
    const r = await step(Buffer.from(`\u0000${creds.username}\u0000${creds.password}`, 'utf8'));
    return { sessionLifetimeMs: r.sessionLifetimeMs };
  }
  const hash = creds.mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
  const clientNonce = randomBytes(24).toString('base64url');
  const clientFirstBare = `n=${creds.username.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${clientNonce}`;
  const serverFirst = (await step(Buffer.from(`n,,${clientFirstBare}`, 'utf8'))).authBytes.toString('utf8');
  const attrs = new Map(serverFirst.split(',').map((p) => [p.slice(0, 1), p.slice(2)] as const));
  const nonce = attrs.get('r') ?? '';
  const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
  const iterations = Number(attrs.get('i'));
  if (!nonce.startsWith(clientNonce) || nonce.length === clientNonce.length || salt.length === 0 || !Number.isSafeInteger(iterations)) {
    throw refused('Invalid SCRAM server first message');
  }
  // Kafka's ScramSaslClient refuses fewer than ScramMechanism.minIterations; more than its
  // maxIterations (what the broker side accepts for a credential) is refused too: PBKDF2 with
  // whatever count the other side names would be a way to keep this broker busy.
  if (iterations < SCRAM_MIN_ITERATIONS) throw refused(`Requested iterations ${String(iterations)} is less than the minimum ${String(SCRAM_MIN_ITERATIONS)} for ${creds.mechanism}`);
  if (iterations > SCRAM_MAX_ITERATIONS) throw refused(`Requested iterations ${String(iterations)} is more than the maximum ${String(SCRAM_MAX_ITERATIONS)} for ${creds.mechanism}`);
  const { clientKey, serverKey } = await scramClientKeys(creds.mechanism, creds.password, salt, iterations);
  const storedKey = createHash(hash).update(clientKey).digest();
  const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = createHmac(hash, storedKey).update(authMessage).digest();
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i] ^ signature[i];
  const final = await step(Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8'));
  const expected = createHmac(hash, serverKey).update(authMessage).digest();
  const v = /^v=([A-Za-z0-9+/=]+)$/.exec(final.authBytes.toString('utf8'));
  const got = v ? Buffer.from(v[1], 'base64') : Buffer.alloc(0);
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) throw refused('The broker\'s SCRAM server signature does not match: it does not know the password');
  return { sessionLifetimeMs: final.sessionLifetimeMs };
}

/**
 * The credentials this broker authenticates to other brokers with (SASL between brokers), as Kafka
 * reads them: the username and password options of the mechanism's login module (PlainLoginModule
 * for PLAIN, next to its user_<name> entries for the server side; ScramLoginModule for SCRAM) in
 * listener.name.<listener>.<mechanism>.sasl.jaas.config only: as Kafka's
 * JaasContext.loadServerContext, a sasl.jaas.config without the mechanism prefix (global or the
 * listener's) is not used for them. Null when the config has no SASL between brokers
 * (BrokerConfig.interBrokerSaslMechanism); throws ConfigError when the credentials are missing.
 */
export function interBrokerSaslCredentials(config: BrokerConfig): SaslClientCredentials | null {
  const mechanism = config.interBrokerSaslMechanism();
  if (mechanism === null) return null;
  const listener = config.interBrokerListener().name;
  const scoped = `${mechanism.toLowerCase()}.sasl.jaas.config`;
  const key = `listener.name.${listener.toLowerCase()}.${scoped}`;
  const raw = config.hasListenerSetting(listener, scoped) ? config.listenerSetting(listener, scoped) : null;
  const loginModule = mechanism === 'PLAIN' ? PLAIN_LOGIN_MODULE : SCRAM_LOGIN_MODULE;
  const unprefixed = raw === null && config.listenerSetting(listener, 'sasl.jaas.config') !== null ? ' (a sasl.jaas.config without the mechanism prefix is not used for them, as in Kafka)' : '';
  const missing = `SASL between brokers (${mechanism}) needs the broker's own credentials in ${key}: ${loginModule} required username="..." password="...";${unprefixed}`;
  if (typeof raw !== 'string' || raw.trim() === '') throw new ConfigError(key, null, missing);
  let modules;
  try {
    modules = parseJaasConfig(raw);
  } catch (err) {
    throw new ConfigError(key, '[hidden]', (err as Error).message);
  }
  const entry = modules.find((m) => m.loginModule === loginModule && m.options.has('username') && m.options.has('password'));
  const username = entry?.options.get('username');
  const password = entry?.options.get('password');
  if (username === undefined || password === undefined || username === '') throw new ConfigError(key, '[hidden]', missing);
  return { mechanism: mechanism as SaslClientCredentials['mechanism'], username, password };
}
