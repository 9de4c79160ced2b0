// security/ room: SASL/OAUTHBEARER (RFC 7628) with signed JWT access tokens, as Kafka's
// OAuthBearerValidatorCallbackHandler checks them: the signature against a key of the configured
// JWKS (sasl.oauthbearer.jwks.endpoint.url, file:// or http(s)://), exp required, nbf/iat within
// the clock skew, the expected audience and issuer when configured, the principal from the sub
// claim (sasl.oauthbearer.sub.claim.name). Unsecured ("alg":"none") tokens are never accepted.
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SaslAuthenticationError } from './errors.js';

export interface OAuthBearerSettings {
  jwksUrl: string;
  refreshMs: number;
  expectedAudience: string[];
  expectedIssuer: string | null;
  subClaimName: string;
  clockSkewSeconds: number;
}

/** A validated token: the principal name and when the token expires (ms since the epoch). */
export interface ValidatedToken {
  principalName: string;
  expiresAtMs: number;
}

/** The token could not be validated: the client gets a JSON error challenge, then this reason. */
export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

const ALGORITHMS: Record<string, { hash: string; kty: string; ecdsa?: boolean; pss?: boolean }> = {
  RS256: { hash: 'sha256', kty: 'RSA' },
  RS384: { hash: 'sha384', kty: 'RSA' },
  RS512: { hash: 'sha512', kty: 'RSA' },
  PS256: { hash: 'sha256', kty: 'RSA', pss: true },
  ES256: { hash: 'sha256', kty: 'EC', ecdsa: true },
  ES384: { hash: 'sha384', kty: 'EC', ecdsa: true },
  ES512: { hash: 'sha512', kty: 'EC', ecdsa: true },
};

interface LoadedKey {
  kid: string | undefined;
  kty: string;
  alg: string | undefined;
  key: KeyObject;
}

/** Unknown kids trigger a JWKS re-read at most this often. */
const UNKNOWN_KID_REFRESH_MS = 10_000;

export class JwksKeys {
  private keys: LoadedKey[] = [];
  private loadedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | null = null;

  constructor(
    private readonly url: string,
    private readonly refreshMs: number,
  ) {}

  private async fetchText(): Promise<string> {
    if (this.url.startsWith('file:')) return readFile(fileURLToPath(this.url), 'utf8');
    if (!/^https?:\/\//.test(this.url)) throw new Error(`sasl.oauthbearer.jwks.endpoint.url must be a file:// or http(s):// URL, not ${this.url}`);
    const res = await fetch(this.url, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`JWKS endpoint ${this.url} answered HTTP ${res.status}`);
    return res.text();
  }

  private async load(): Promise<void> {
    const parsed = JSON.parse(await this.fetchText()) as { keys?: unknown };
    if (!Array.isArray(parsed.keys)) throw new Error(`${this.url} is not a JSON Web Key Set (no "keys" array)`);
    const keys: LoadedKey[] = [];
    for (const jwk of parsed.keys as Array<JsonWebKey & { kid?: string; alg?: string; use?: string }>) {
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      try {
        keys.push({ kid: jwk.kid, kty: String(jwk.kty), alg: jwk.alg, key: createPublicKey({ key: jwk, format: 'jwk' }) });
      } catch {
        // a key type node:crypto cannot use: skipped, as jose4j skips unusable keys
      }
    }
    this.keys = keys;
    this.loadedAt = Date.now();
  }

  /** Loads once at a time; a failed load keeps the previous keys (and is retried next time). */
  private refresh(): Promise<void> {
    this.loading ??= this.load().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  async find(kid: string | undefined, kty: string, alg: string): Promise<KeyObject | undefined> {
    const pick = (): KeyObject | undefined => {
      const fits = this.keys.filter((k) => k.kty === kty && (k.alg === undefined || k.alg === alg));
      if (kid !== undefined) return fits.find((k) => k.kid === kid)?.key;
      return fits.length === 1 ? fits[0].key : undefined;
    };
    const age = Date.now() - this.loadedAt;
    if (age > this.refreshMs || (pick() === undefined && age > UNKNOWN_KID_REFRESH_MS)) await this.refresh();
    return pick();
  }
}

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidTokenError(`Malformed JWT ${what}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidTokenError(`Malformed JWT ${what}`);
  return value as Record<string, unknown>;
}

export class OAuthBearerValidator {
  private readonly jwks: JwksKeys;

  constructor(private readonly settings: OAuthBearerSettings) {
    this.jwks = new JwksKeys(settings.jwksUrl, settings.refreshMs);
  }

  async validate(token: string, nowMs = Date.now()): Promise<ValidatedToken> {
    const parts = token.split('.');
    if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) throw new InvalidTokenError('Malformed JWT: expected three base64url parts');
    const header = decodeSegment(parts[0], 'header');
    const claims = decodeSegment(parts[1], 'payload');
    const alg = typeof header.alg === 'string' ? header.alg : '';
    const spec = ALGORITHMS[alg] as (typeof ALGORITHMS)[string] | undefined;
    if (!spec) throw new InvalidTokenError(`JWT algorithm "${alg}" is not accepted`);
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    const key = await this.jwks.find(kid, spec.kty, alg);
    if (!key) throw new InvalidTokenError(`No key of the JWKS matches the JWT (kid ${kid ?? 'none'})`);
    const signature = Buffer.from(parts[2], 'base64url');
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii');
    let ok: boolean;
    try {
      ok = spec.ecdsa
        ? verify(spec.hash, signed, { key, dsaEncoding: 'ieee-p1363' }, signature)
        : spec.pss
          ? verify(spec.hash, signed, { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 }, signature)
          : verify(spec.hash, signed, key, signature);
    } catch {
      ok = false;
    }
    if (!ok) throw new InvalidTokenError('JWT signature verification failed');

    const skewMs = this.settings.clockSkewSeconds * 1000;
    const seconds = (name: string): number | undefined => {
      const v = claims[name];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidTokenError(`JWT claim ${name} is not a number`);
      return v * 1000;
    };
    const exp = seconds('exp');
    if (exp === undefined) throw new InvalidTokenError('JWT has no exp claim');
    if (nowMs - skewMs >= exp) throw new InvalidTokenError(`JWT expired at ${new Date(exp).toISOString()}`);
    const nbf = seconds('nbf');
    if (nbf !== undefined && nowMs + skewMs < nbf) throw new InvalidTokenError('JWT is not valid yet (nbf)');
    const iat = seconds('iat');
    if (iat !== undefined && iat > nowMs + skewMs) throw new InvalidTokenError('JWT issued in the future (iat)');
    if (this.settings.expectedAudience.length > 0) {
      const aud = claims.aud;
      const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
      if (!auds.some((a) => this.settings.expectedAudience.includes(a))) throw new InvalidTokenError('JWT audience is not one expected');
    }
    if (this.settings.expectedIssuer !== null && claims.iss !== this.settings.expectedIssuer) throw new InvalidTokenError('JWT issuer is not the one expected');
    const sub = claims[this.settings.subClaimName];
    if (typeof sub !== 'string' || sub.trim() === '') throw new InvalidTokenError(`JWT has no ${this.settings.subClaimName} claim`);
    return { principalName: sub, expiresAtMs: exp };
  }
}

/**
 * The client's initial response (RFC 7628): gs2-header ^A auth=Bearer <token> ^A key=value ... ^A^A.
 * Returns the token, the authorization id and the extensions.
 */
export function parseOAuthBearerInitialResponse(token: Buffer): { token: string; authzid: string; extensions: Map<string, string> } {
  const text = token.toString('utf8');
  const SEP = String.fromCharCode(1);
  const parts = text.split(SEP);
  // [gs2-header, kvpair..., '', ''] for a message ending in ^A^A.
  const header = /^n,(?:a=([^,]*))?,$/.exec(parts[0]);
  if (!header || parts.length < 4 || parts[parts.length - 1] !== '' || parts[parts.length - 2] !== '') {
    throw new SaslAuthenticationError('Invalid OAUTHBEARER client first message');
  }
  const pairs = parts.slice(1, -2);
  const authzid = (header[1] as string | undefined) ?? '';
  let bearer: string | undefined;
  const extensions = new Map<string, string>();
  for (const kv of pairs) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new SaslAuthenticationError('Invalid OAUTHBEARER client first message');
    const key = kv.slice(0, eq);
    const value = kv.slice(eq + 1);
    if (key === 'auth') {
      const b = /^bearer +([-_.a-zA-Z0-9]+)$/i.exec(value);
      if (!b) throw new SaslAuthenticationError('Invalid OAUTHBEARER client first message: auth is not "Bearer <token>"');
      bearer = b[1];
    } else {
      extensions.set(key, value);
    }
  }
  if (bearer === undefined) throw new SaslAuthenticationError('Invalid OAUTHBEARER client first message: no auth');
  return { token: bearer, authzid, extensions };
}
