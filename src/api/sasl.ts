// api/ room: SaslHandshake (v0-v1), SaslAuthenticate (v0-v2) and the SCRAM credential APIs
// (DescribeUserScramCredentials, AlterUserScramCredentials, KIP-554), plus the dispatcher gate that
// keeps a SASL listener's connection to ApiVersions/SaslHandshake/SaslAuthenticate until it has
// authenticated. After SaslHandshake v0 the client's SASL tokens come as raw size-prefixed frames
// (no Kafka request header) and each is answered by a raw size-prefixed token; a failed exchange
// gets no answer and the connection closes connection.failed.authentication.delay.ms later (as
// Kafka's SaslServerAuthenticator does without SaslAuthenticate headers).
import type { MetadataStore, ScramCredentialDeletion, ScramCredentialRecord } from '../cluster/index.js';
import { ErrorCode } from '../errors.js';
import type { ConnectionInfo, RequestOutcome } from '../network/index.js';
import { ApiKey } from '../protocol/index.js';
import type { SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse } from '../protocol/messages/sasl.js';
import type {
  AlterUserScramCredentialsRequest,
  AlterUserScramCredentialsResponse,
  DescribeUserScramCredentialsRequest,
  DescribeUserScramCredentialsResponse,
} from '../protocol/messages/scram-credentials.js';
import {
  credentialFromSaltedPassword,
  isSaslProtocol,
  SCRAM_MAX_ITERATIONS,
  SCRAM_MECHANISM_IDS,
  SCRAM_MIN_ITERATIONS,
  saslAuthenticatorFor,
  scramMechanismId,
  type SaslAuthenticator,
} from '../security/sasl/index.js';
import type { Dispatcher } from './dispatch.js';
import type { ApiServices } from './services.js';
import { defineApi, type RequestContext } from './types.js';

function authenticator(services: ApiServices): SaslAuthenticator {
  return saslAuthenticatorFor(services.config, services.metadata, services.logger);
}

function logContext(ctx: RequestContext): Record<string, unknown> {
  return { connectionId: ctx.connectionId, clientHost: ctx.clientHost, clientId: ctx.clientId };
}

/**
 * Installs SASL on a broker's dispatcher: checks the SASL settings of its SASL listeners (throws
 * ConfigError at start-up) and adds the gate.
 */
export function installSasl(dispatcher: Dispatcher, services: ApiServices, saslListeners: readonly string[]): void {
  const sasl = authenticator(services);
  sasl.validate(saslListeners);
  // Until authenticated, frames are processed one at a time: whether one is a raw token depends on
  // the SaslHandshake before it.
  // After a failed exchange what the connection still sends is not processed (nor logged): it closes.
  dispatcher.addHook('onFrame', (frame, conn, next) =>
    sasl.inExchange(conn.security)
      ? sasl.inOrder(conn.security, () =>
          sasl.hasFailed(conn.security)
            ? Promise.resolve<RequestOutcome>({ kind: 'close', reason: 'request after failed SASL authentication' })
            : sasl.expectsRawToken(conn.security)
              ? rawTokenStep(sasl, services, frame, conn)
              : next(),
        )
      : null,
  );
  dispatcher.addHook('onRequest', (ctx) => {
    // Only SASL listeners' connections are gated: the others build no log context per request.
    if (!isSaslProtocol(ctx.security)) return;
    sasl.checkRequest(ctx.security, ctx.apiKey, { ...logContext(ctx), apiVersion: ctx.apiVersion, correlationId: ctx.correlationId });
  });
}

/**
 * One raw token after SaslHandshake v0: the challenge goes back size-prefixed with no header (an
 * empty one too: PLAIN's last step); a failure sends nothing and closes the connection after
 * connection.failed.authentication.delay.ms.
 */
async function rawTokenStep(sasl: SaslAuthenticator, services: ApiServices, token: Buffer, conn: ConnectionInfo): Promise<RequestOutcome> {
  const answer = await sasl.authenticate(conn.security, token, { connectionId: conn.connectionId, clientHost: conn.clientHost, rawTokens: true });
  if (answer.errorCode !== ErrorCode.NONE) {
    // The connection stops reading now and closes after the delay, without an answer.
    const delayMs = services.config.getNumber('connection.failed.authentication.delay.ms');
    return { kind: 'close', reason: 'failed SASL authentication (raw tokens after SaslHandshake v0)', delayMs };
  }
  return { kind: 'response', response: { chunks: [answer.authBytes], size: answer.authBytes.length } };
}

export const saslHandshakeApi = defineApi<SaslHandshakeRequest, SaslHandshakeResponse>({
  apiKey: ApiKey.SaslHandshake,
  handler: (req, ctx) => authenticator(ctx.services).handshake(ctx.security, req.mechanism, ctx.apiVersion),
  // Kafka answers an unsupported mechanism with the enabled ones, then closes the connection.
  responseMode: (_req, res) =>
    res.errorCode === ErrorCode.UNSUPPORTED_SASL_MECHANISM ? { kind: 'sendThenClose', delayMs: 0, reason: 'SASL mechanism not enabled' } : 'send',
});

export const saslAuthenticateApi = defineApi<SaslAuthenticateRequest, SaslAuthenticateResponse>({
  apiKey: ApiKey.SaslAuthenticate,
  handler: (req, ctx) => authenticator(ctx.services).authenticate(ctx.security, req.authBytes, logContext(ctx)),
  // Kafka sends SASL_AUTHENTICATION_FAILED and closes the connection, connection.failed.authentication.delay.ms later.
  responseMode: (_req, res, ctx) =>
    res.errorCode === ErrorCode.SASL_AUTHENTICATION_FAILED
      ? { kind: 'sendThenClose', delayMs: ctx.services.config.getNumber('connection.failed.authentication.delay.ms'), reason: 'failed SASL authentication' }
      : 'send',
});

// ---- SCRAM credentials --------------------------------------------------------------------------

async function allCredentials(metadata: MetadataStore): Promise<ScramCredentialRecord[]> {
  return metadata.scramCredentials ? metadata.scramCredentials() : [];
}

export async function handleDescribeUserScramCredentials(
  req: DescribeUserScramCredentialsRequest,
  ctx: RequestContext,
): Promise<DescribeUserScramCredentialsResponse> {
  const credentials = await allCredentials(ctx.services.metadata);
  const byUser = new Map<string, ScramCredentialRecord[]>();
  for (const c of credentials) byUser.set(c.user, [...(byUser.get(c.user) ?? []), c]);
  // Kafka's ScramImage.describe: every user when none is named; a user named twice is an error.
  const requested = new Map<string, boolean>();
  if (req.users === null || req.users.length === 0) for (const user of byUser.keys()) requested.set(user, false);
  else for (const { name } of req.users) requested.set(name, requested.has(name));
  const results: DescribeUserScramCredentialsResponse['results'] = [];
  for (const [user, duplicate] of requested) {
    if (duplicate) {
      results.push({ user, errorCode: ErrorCode.DUPLICATE_RESOURCE, errorMessage: `Cannot describe SCRAM credentials for the same user twice in a single request: ${user}`, credentialInfos: [] });
      continue;
    }
    const found = (byUser.get(user) ?? []).sort((a, b) => scramMechanismId(a.mechanism) - scramMechanismId(b.mechanism));
    if (found.length === 0) {
      results.push({ user, errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: `Attempt to describe a user credential that does not exist: ${user}`, credentialInfos: [] });
    } else {
      results.push({ user, errorCode: ErrorCode.NONE, errorMessage: null, credentialInfos: found.map((c) => ({ mechanism: scramMechanismId(c.mechanism), iterations: c.iterations })) });
    }
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results };
}

interface UserError {
  errorCode: number;
  errorMessage: string;
}

function checkUserAndMechanism(user: string, mechanism: number): UserError | null {
  if (user === '') return { errorCode: ErrorCode.UNACCEPTABLE_CREDENTIAL, errorMessage: 'Username must not be empty' };
  if (!SCRAM_MECHANISM_IDS.has(mechanism)) return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, errorMessage: 'Unknown SCRAM mechanism' };
  return null;
}

export async function handleAlterUserScramCredentials(
  req: AlterUserScramCredentialsRequest,
  ctx: RequestContext,
): Promise<AlterUserScramCredentialsResponse> {
  const { metadata } = ctx.services;
  const existing = new Set((await allCredentials(metadata)).map((c) => `${c.mechanism} ${c.user}`));
  // Kafka's ScramControlManager.alterCredentials: one result per user, the first error wins, and a
  // user altered twice (same mechanism twice, or deleted and upserted) is DUPLICATE_RESOURCE.
  const errors = new Map<string, UserError>();
  const seen = new Set<string>();
  const users: string[] = [];
  const note = (user: string): void => {
    if (!users.includes(user)) users.push(user);
  };
  const deletions: ScramCredentialDeletion[] = [];
  const upsertions: ScramCredentialRecord[] = [];
  const duplicate = (user: string, mechanism: number): boolean => {
    const key = `${mechanism} ${user}`;
    if (seen.has(key)) {
      errors.set(user, { errorCode: ErrorCode.DUPLICATE_RESOURCE, errorMessage: 'A user credential cannot be altered twice in the same request' });
      return true;
    }
    seen.add(key);
    return false;
  };
  for (const d of req.deletions) {
    note(d.name);
    if (duplicate(d.name, d.mechanism) || errors.has(d.name)) continue;
    const problem = checkUserAndMechanism(d.name, d.mechanism);
    const mechanism = SCRAM_MECHANISM_IDS.get(d.mechanism);
    if (problem || mechanism === undefined) errors.set(d.name, problem ?? { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, errorMessage: 'Unknown SCRAM mechanism' });
    else if (!existing.has(`${mechanism} ${d.name}`)) errors.set(d.name, { errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: 'Attempt to delete a user credential that does not exist' });
    else deletions.push({ user: d.name, mechanism });
  }
  for (const u of req.upsertions) {
    note(u.name);
    if (duplicate(u.name, u.mechanism) || errors.has(u.name)) continue;
    const problem = checkUserAndMechanism(u.name, u.mechanism);
    const mechanism = SCRAM_MECHANISM_IDS.get(u.mechanism);
    if (problem || mechanism === undefined) {
      errors.set(u.name, problem ?? { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, errorMessage: 'Unknown SCRAM mechanism' });
      continue;
    }
    if (u.iterations < SCRAM_MIN_ITERATIONS) errors.set(u.name, { errorCode: ErrorCode.UNACCEPTABLE_CREDENTIAL, errorMessage: 'Too few iterations' });
    else if (u.iterations > SCRAM_MAX_ITERATIONS) errors.set(u.name, { errorCode: ErrorCode.UNACCEPTABLE_CREDENTIAL, errorMessage: 'Too many iterations' });
    else if (u.salt.length === 0 || u.saltedPassword.length === 0) errors.set(u.name, { errorCode: ErrorCode.UNACCEPTABLE_CREDENTIAL, errorMessage: 'Salt and salted password must not be empty' });
    else upsertions.push(credentialFromSaltedPassword(u.name, mechanism, u.salt, u.saltedPassword, u.iterations));
  }
  const ok = (user: string): boolean => !errors.has(user);
  const toDelete = deletions.filter((d) => ok(d.user));
  const toUpsert = upsertions.filter((u) => ok(u.user));
  if (toDelete.length + toUpsert.length > 0) {
    if (!metadata.alterScramCredentials) {
      for (const user of users) if (ok(user)) errors.set(user, { errorCode: ErrorCode.UNSUPPORTED_VERSION, errorMessage: 'This metadata store does not keep SCRAM credentials' });
    } else {
      try {
        await metadata.alterScramCredentials(toUpsert, toDelete);
      } catch (err) {
        const errorMessage = err instanceof Error ? err.message : String(err);
        for (const user of users) if (ok(user)) errors.set(user, { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage });
      }
    }
  }
  return {
    throttleTimeMs: 0,
    results: users.map((user) => {
      const e = errors.get(user);
      return { user, errorCode: e?.errorCode ?? ErrorCode.NONE, errorMessage: e?.errorMessage ?? null };
    }),
  };
}

export const describeUserScramCredentialsApi = defineApi({ apiKey: ApiKey.DescribeUserScramCredentials, handler: handleDescribeUserScramCredentials });
export const alterUserScramCredentialsApi = defineApi({ apiKey: ApiKey.AlterUserScramCredentials, handler: handleAlterUserScramCredentials });

export const saslApis = [saslHandshakeApi, saslAuthenticateApi, describeUserScramCredentialsApi, alterUserScramCredentialsApi];
