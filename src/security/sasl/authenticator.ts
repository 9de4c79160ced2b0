// security/ room: the broker side of SASL (SaslHandshake v0-v1, SaslAuthenticate v0-v2) as Kafka's
// SaslServerAuthenticator behaves — per listener mechanisms (sasl.enabled.mechanisms), PLAIN,
// SCRAM-SHA-256/512 and OAUTHBEARER exchanges, the gate that lets only ApiVersions, SaslHandshake
// and SaslAuthenticate through before authentication, and KIP-368 session expiry and
// re-authentication. The per-connection state lives in ConnectionSecurity.sasl; each connection's
// SaslAuthenticate steps run one at a time even when the client pipelines them. After SaslHandshake
// v0 the client sends its SASL tokens as raw size-prefixed frames (no Kafka request header) until
// the exchange ends: expectsRawToken tells the dispatcher, and authenticate serves those steps too.
import type { Logger } from 'pino';
import type { MetadataStore, ScramMechanismName } from '../../cluster/index.js';
import { ConfigError, type BrokerConfig } from '../../config/index.js';
import { ErrorCode } from '../../errors.js';
import { ApiKey, apiName } from '../../protocol/index.js';
import { principalToString, type ConnectionSecurity, type KafkaPrincipal } from '../types.js';
import { SaslAuthenticationError } from './errors.js';
import { plainUsers } from './jaas.js';
import { InvalidTokenError, OAuthBearerValidator, parseOAuthBearerInitialResponse } from './oauthbearer.js';
import { authenticatePlain } from './plain.js';
import { SCRAM_MECHANISMS, ScramServer } from './scram.js';

export const SUPPORTED_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'] as const;

/** One step's outcome: a challenge to send back, or (with a principal name) the end of the exchange. */
interface StepResult {
  response: Buffer;
  principalName?: string;
  /** When the credential itself expires (an OAUTHBEARER token's exp), ms since the epoch. */
  credentialExpiresAtMs?: number;
}

interface Exchange {
  step(token: Buffer): Promise<StepResult>;
}

/** What ConnectionSecurity.sasl holds on a SASL listener. */
interface SaslConnectionState {
  /** handshake: a SaslHandshake is expected; authenticate: SaslAuthenticate steps; failed: the connection is closing (its response's responseMode), and any request still pipelined closes it. */
  phase: 'handshake' | 'authenticate' | 'failed';
  mechanism: string | null;
  exchange: Exchange | null;
  /** The mechanism of the last successful authentication (re-authentication must keep it). */
  authenticatedMechanism: string | null;
  /** Serializes SaslAuthenticate steps of the connection. */
  queue: Promise<unknown>;
  /** SaslHandshake v0 chose the mechanism: the exchange's tokens come as raw frames (no Kafka header). */
  rawTokens: boolean;
  /** The last frame read during the exchange (inOrder): the next one waits for it. */
  frames: Promise<unknown>;
}

export function isSaslProtocol(security: ConnectionSecurity): boolean {
  return security.securityProtocol === 'SASL_PLAINTEXT' || security.securityProtocol === 'SASL_SSL';
}

function stateOf(security: ConnectionSecurity): SaslConnectionState {
  let state = security.sasl as SaslConnectionState | undefined;
  if (state === undefined) {
    state = { phase: 'handshake', mechanism: null, exchange: null, authenticatedMechanism: null, queue: Promise.resolve(), rawTokens: false, frames: Promise.resolve() };
    security.sasl = state;
  }
  return state;
}

/** A request the gate refuses: the dispatcher closes the connection (as Kafka does). */
export class SaslGateError extends Error {
  override readonly name = 'SaslGateError';
  /** The dispatcher closes the connection without an error log: the gate logged why. */
  readonly closeQuietly = true;
}

const PRE_AUTH_APIS: ReadonlySet<number> = new Set([ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]);

export interface HandshakeAnswer {
  errorCode: number;
  mechanisms: string[];
}

export interface AuthenticateAnswer {
  errorCode: number;
  errorMessage: string | null;
  authBytes: Buffer;
  sessionLifetimeMs: number;
}

const EMPTY = Buffer.alloc(0);

export class SaslAuthenticator {
  private readonly mechanismsByListener = new Map<string, string[]>();
  private readonly plainUsersByListener = new Map<string, Map<string, string>>();
  private readonly oauthByListener = new Map<string, OAuthBearerValidator>();

  constructor(
    private readonly config: BrokerConfig,
    private readonly metadata: MetadataStore,
    private readonly logger: Logger,
  ) {}

  /**
   * Checks the SASL settings of every SASL listener (start-up): mechanisms Spool implements,
   * PLAIN users present, OAUTHBEARER with a JWKS URL. Throws ConfigError.
   */
  validate(listenerNames: readonly string[]): void {
    for (const name of listenerNames) {
      const mechanisms = this.mechanisms(name);
      if (mechanisms.includes('GSSAPI')) {
        throw new ConfigError(`listener.name.${name.toLowerCase()}.sasl.enabled.mechanisms`, mechanisms.join(','), 'GSSAPI (Kerberos, Kafka\'s default) is not implemented by Spool; list PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER');
      }
      if (mechanisms.includes('PLAIN')) this.plainUsers(name);
      if (mechanisms.includes('OAUTHBEARER')) this.oauth(name);
    }
  }

  /** listener.name.<l>.<mechanism>.<key>, else listener.name.<l>.<key>, else <key>. */
  private setting(listenerName: string, mechanism: string | null, key: string): unknown {
    if (mechanism !== null) {
      const scoped = `${mechanism.toLowerCase()}.${key}`;
      if (this.config.hasListenerSetting(listenerName, scoped)) return this.config.listenerSetting(listenerName, scoped);
    }
    return this.config.listenerSetting(listenerName, key);
  }

  mechanisms(listenerName: string): string[] {
    let list = this.mechanismsByListener.get(listenerName);
    if (!list) {
      const v = this.setting(listenerName, null, 'sasl.enabled.mechanisms');
      list = (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? v.split(',') : []).map((m) => m.trim().toUpperCase()).filter((m) => m !== '');
      this.mechanismsByListener.set(listenerName, list);
    }
    return list;
  }

  private plainUsers(listenerName: string): Map<string, string> {
    let users = this.plainUsersByListener.get(listenerName);
    if (!users) {
      const jaas = this.setting(listenerName, 'PLAIN', 'sasl.jaas.config');
      const key = `listener.name.${listenerName.toLowerCase()}.plain.sasl.jaas.config`;
      if (typeof jaas !== 'string' || jaas.trim() === '') throw new ConfigError(key, null, 'SASL/PLAIN is enabled but no JAAS config names its users (PlainLoginModule user_<name>="<password>")');
      try {
        users = plainUsers(jaas);
      } catch (err) {
        throw new ConfigError(key, '[hidden]', (err as Error).message);
      }
      this.plainUsersByListener.set(listenerName, users);
    }
    return users;
  }

  private oauth(listenerName: string): OAuthBearerValidator {
    let validator = this.oauthByListener.get(listenerName);
    if (!validator) {
      const get = (key: string): unknown => this.setting(listenerName, 'OAUTHBEARER', key);
      const url = get('sasl.oauthbearer.jwks.endpoint.url');
      if (typeof url !== 'string' || url.trim() === '') {
        throw new ConfigError('sasl.oauthbearer.jwks.endpoint.url', null, 'OAUTHBEARER is enabled: Spool validates signed tokens only and needs the JWKS that signs them (unsecured tokens are never accepted)');
      }
      const audience = get('sasl.oauthbearer.expected.audience');
      const issuer = get('sasl.oauthbearer.expected.issuer');
      validator = new OAuthBearerValidator({
        jwksUrl: url.trim(),
        refreshMs: Number(get('sasl.oauthbearer.jwks.endpoint.refresh.ms')),
        expectedAudience: Array.isArray(audience) ? (audience as string[]) : [],
        expectedIssuer: typeof issuer === 'string' && issuer !== '' ? issuer : null,
        subClaimName: String(get('sasl.oauthbearer.sub.claim.name')),
        clockSkewSeconds: Number(get('sasl.oauthbearer.clock.skew.seconds')),
      });
      this.oauthByListener.set(listenerName, validator);
    }
    return validator;
  }

  private newExchange(listenerName: string, mechanism: string): Exchange {
    if (mechanism === 'PLAIN') {
      const users = this.plainUsers(listenerName);
      return { step: (token) => Promise.resolve({ response: EMPTY, principalName: authenticatePlain(token, users) }) };
    }
    if ((SCRAM_MECHANISMS as readonly string[]).includes(mechanism)) {
      const server = new ScramServer(mechanism as ScramMechanismName, (user, m) => this.metadata.scramCredential?.(user, m) ?? Promise.resolve(undefined));
      return {
        step: async (token) => {
          const { response, user } = await server.step(token);
          return user === undefined ? { response } : { response, principalName: user };
        },
      };
    }
    if (mechanism === 'OAUTHBEARER') {
      const validator = this.oauth(listenerName);
      let pendingError: string | null = null;
      return {
        step: async (token) => {
          // After our error challenge the client answers %x01 and the exchange fails (RFC 7628 3.2.3).
          if (pendingError !== null) {
            if (token.length === 1 && token[0] === 1) throw new SaslAuthenticationError(pendingError);
            pendingError = null;
          }
          const initial = parseOAuthBearerInitialResponse(token);
          try {
            const valid = await validator.validate(initial.token);
            if (initial.authzid !== '' && initial.authzid !== valid.principalName) {
              throw new SaslAuthenticationError(
                `Authentication failed: Client requested an authorization id (${initial.authzid}) that is different from the token's principal name (${valid.principalName})`,
              );
            }
            return { response: EMPTY, principalName: valid.principalName, credentialExpiresAtMs: valid.expiresAtMs };
          } catch (err) {
            if (!(err instanceof InvalidTokenError)) throw err;
            this.logger.info({ listener: listenerName, reason: err.message }, 'OAUTHBEARER token refused');
            pendingError = '{"status":"invalid_token"}';
            return { response: Buffer.from(pendingError, 'utf8') };
          }
        },
      };
    }
    throw new Error(`no exchange for ${mechanism}`);
  }

  /**
   * The dispatcher's onRequest gate. Throws (closing the connection) for a request other than
   * ApiVersions/SaslHandshake/SaslAuthenticate before authentication, after a failed
   * authentication, or once the KIP-368 session expired without re-authentication.
   */
  checkRequest(security: ConnectionSecurity, apiKey: number, log: Record<string, unknown>): void {
    if (!isSaslProtocol(security)) return;
    const state = security.sasl as SaslConnectionState | undefined;
    if (state?.phase === 'failed') {
      this.logger.info({ ...log, listener: security.listenerName }, `Unexpected Kafka request of type ${apiName(apiKey)} after failed SASL authentication; closing connection`);
      throw new SaslGateError('request after failed SASL authentication');
    }
    if (!security.authenticated) {
      if (PRE_AUTH_APIS.has(apiKey)) return;
      this.logger.info({ ...log, listener: security.listenerName }, `Unexpected Kafka request of type ${apiName(apiKey)} during SASL handshake; closing connection`);
      throw new SaslGateError(`${apiName(apiKey)} before SASL authentication`);
    }
    const expires = security.sessionExpiresAtMs;
    if (expires !== undefined && Date.now() >= expires && apiKey !== ApiKey.SaslHandshake && apiKey !== ApiKey.SaslAuthenticate) {
      this.logger.info(
        { ...log, listener: security.listenerName, principal: principalToString(security.principal), expiredAt: new Date(expires).toISOString() },
        'SASL session expired without re-authentication (connections.max.reauth.ms); closing connection',
      );
      throw new SaslGateError('SASL session expired');
    }
  }

  /**
   * True while the connection's frames are raw SASL tokens, not Kafka requests: after a successful
   * SaslHandshake v0 until the exchange succeeded (a failed one closes the connection: what still
   * arrives is refused as a token in the wrong state). Asked in order (inOrder), once the frames
   * before were processed.
   */
  expectsRawToken(security: ConnectionSecurity): boolean {
    const state = security.sasl as SaslConnectionState | undefined;
    return state !== undefined && state.rawTokens && state.phase !== 'handshake';
  }

  /** The exchange failed: the connection is closing, and what it still sends is dropped unprocessed. */
  hasFailed(security: ConnectionSecurity): boolean {
    return (security.sasl as SaslConnectionState | undefined)?.phase === 'failed';
  }

  /**
   * True while the connection's frames must be processed one after the other, as Kafka's
   * authenticator reads them: on a SASL listener before authentication, and during a raw-token
   * exchange (a token pipelined behind its SaslHandshake v0 is only known to be one once the
   * handshake was processed).
   */
  inExchange(security: ConnectionSecurity): boolean {
    return isSaslProtocol(security) && (!security.authenticated || this.expectsRawToken(security));
  }

  /** Runs `process` for a frame once the connection's previous frame given here was processed. */
  inOrder<T>(security: ConnectionSecurity, process: () => Promise<T>): Promise<T> {
    const state = stateOf(security);
    const run = state.frames.then(process);
    state.frames = run.catch(() => undefined);
    return run;
  }

  /**
   * SaslHandshake: picks the mechanism. v1: Kafka-framed SaslAuthenticate requests follow; v0 (as
   * Kafka's SaslServerAuthenticator without enableKafkaSaslAuthenticateHeaders): raw tokens.
   */
  handshake(security: ConnectionSecurity, mechanism: string, version = 1): HandshakeAnswer {
    if (!isSaslProtocol(security)) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
    const state = stateOf(security);
    if (security.authenticated && version === 0) {
      // KIP-368 re-authentication is SaslHandshake v1+ and Kafka-framed SaslAuthenticate: Kafka
      // never switches an authenticated connection back to raw tokens.
      this.logger.info({ listener: security.listenerName, mechanism }, 'SaslHandshake v0 on an authenticated connection refused (re-authentication needs v1)');
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: this.mechanisms(security.listenerName) };
    }
    if (state.phase !== 'handshake') {
      this.logger.info({ listener: security.listenerName, phase: state.phase }, 'Unexpected SaslHandshake during SASL authentication; closing connection');
      throw new SaslGateError(`SaslHandshake in SASL state ${state.phase}`);
    }
    const enabled = this.mechanisms(security.listenerName);
    const supported = enabled.filter((m) => (SUPPORTED_MECHANISMS as readonly string[]).includes(m));
    if (!supported.includes(mechanism)) {
      this.logger.info({ listener: security.listenerName, mechanism, enabled }, 'SASL mechanism requested by client is not enabled');
      state.phase = 'failed';
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: enabled };
    }
    state.mechanism = mechanism;
    if (security.authenticated && state.authenticatedMechanism !== mechanism) {
      // Kafka answers the handshake and fails the SaslAuthenticate that follows.
      const message = `SASL mechanism '${mechanism}' requested by client is not supported for re-authentication of mechanism '${state.authenticatedMechanism ?? ''}'`;
      state.exchange = { step: () => Promise.reject(new SaslAuthenticationError(message)) };
    } else {
      state.exchange = this.newExchange(security.listenerName, mechanism);
    }
    state.phase = 'authenticate';
    state.rawTokens = version === 0;
    return { errorCode: ErrorCode.NONE, mechanisms: enabled };
  }

  /** SaslAuthenticate: one step of the exchange, serialized per connection. */
  authenticate(security: ConnectionSecurity, authBytes: Buffer, log: Record<string, unknown>): Promise<AuthenticateAnswer> {
    const illegal: AuthenticateAnswer = {
      errorCode: ErrorCode.ILLEGAL_SASL_STATE,
      errorMessage: 'SaslAuthenticate request received after successful authentication',
      authBytes: EMPTY,
      sessionLifetimeMs: 0,
    };
    if (!isSaslProtocol(security)) return Promise.resolve(illegal);
    const state = stateOf(security);
    const run = state.queue.then(async (): Promise<AuthenticateAnswer> => {
      const exchange = state.exchange;
      if (state.phase !== 'authenticate' || exchange === null) {
        if (security.authenticated && state.phase === 'handshake') return illegal;
        this.logger.info({ ...log, listener: security.listenerName, phase: state.phase }, 'Unexpected SaslAuthenticate before SaslHandshake; closing connection');
        throw new SaslGateError(`SaslAuthenticate in SASL state ${state.phase}`);
      }
      const mechanism = state.mechanism ?? '';
      const reauth = security.authenticated;
      const what = reauth ? 're-authentication' : 'authentication';
      let result: StepResult;
      try {
        result = await exchange.step(authBytes);
        if (result.principalName !== undefined && reauth && result.principalName !== security.principal.name) {
          throw new SaslAuthenticationError(
            `Cannot change principals during re-authentication from ${security.principal.principalType}.${security.principal.name}: User.${result.principalName}`,
          );
        }
      } catch (err) {
        state.phase = 'failed';
        state.exchange = null;
        security.authenticated = false;
        const errorMessage = err instanceof SaslAuthenticationError ? err.message : `Authentication failed during ${what} due to invalid credentials with SASL mechanism ${mechanism}`;
        this.logger.info({ ...log, listener: security.listenerName, mechanism, reason: (err as Error).message }, `Failed ${what}`);
        return { errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage, authBytes: EMPTY, sessionLifetimeMs: 0 };
      }
      if (result.principalName === undefined) return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: result.response, sessionLifetimeMs: 0 };
      const sessionLifetimeMs = this.completeSession(security, result.credentialExpiresAtMs);
      const principal: KafkaPrincipal = { principalType: 'User', name: result.principalName };
      security.principal = principal;
      security.authenticated = true;
      state.phase = 'handshake';
      state.exchange = null;
      state.rawTokens = false;
      state.authenticatedMechanism = mechanism;
      this.logger.debug({ ...log, listener: security.listenerName, mechanism, principal: principalToString(principal), sessionLifetimeMs }, `SASL ${what} succeeded`);
      return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: result.response, sessionLifetimeMs };
    });
    state.queue = run.catch(() => undefined);
    return run;
  }

  /** Kafka's calcCompletionTimesAndReturnSessionLifetimeMs: the session's lifetime, 0 when unbounded. */
  private completeSession(security: ConnectionSecurity, credentialExpiresAtMs: number | undefined): number {
    const now = Date.now();
    const maxReauthMs = this.config.getNumber('connections.max.reauth.ms');
    if (credentialExpiresAtMs === undefined && maxReauthMs <= 0) {
      delete security.sessionExpiresAtMs;
      return 0;
    }
    let lifetime: number;
    if (credentialExpiresAtMs === undefined) lifetime = maxReauthMs;
    else if (maxReauthMs <= 0) lifetime = credentialExpiresAtMs - now;
    else lifetime = Math.min(credentialExpiresAtMs - now, maxReauthMs);
    lifetime = Math.max(0, lifetime);
    security.sessionExpiresAtMs = now + lifetime;
    return lifetime;
  }
}

/** The authenticator of a broker, by its config (handlers reach it through their services). */
const byConfig = new WeakMap<BrokerConfig, SaslAuthenticator>();

export function saslAuthenticatorFor(config: BrokerConfig, metadata: MetadataStore, logger: Logger): SaslAuthenticator {
  let a = byConfig.get(config);
  if (!a) {
    a = new SaslAuthenticator(config, metadata, logger);
    byConfig.set(config, a);
  }
  return a;
}
