// security tests (issue 14): client-side SASL pieces for raw-protocol tests — a SCRAM client
// (RFC 5802), PLAIN and OAUTHBEARER initial responses, signed JWTs from test keys, and a raw
// SaslHandshake + SaslAuthenticate exchange over RawClient.
import { createHash, createHmac, generateKeyPairSync, pbkdf2Sync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { ApiKey } from '../../src/protocol/api-keys.js';
import { SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse } from '../../src/protocol/messages/sasl.js';
import type { RawClient } from '../helpers/broker.js';

export type ScramMech = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

const hashOf = (m: ScramMech): 'sha256' | 'sha512' => (m === 'SCRAM-SHA-256' ? 'sha256' : 'sha512');

export function saltedPassword(m: ScramMech, password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(password, salt, iterations, m === 'SCRAM-SHA-256' ? 32 : 64, hashOf(m));
}

/** The client side of one SCRAM exchange. */
export class ScramClient {
  private readonly nonce = randomBytes(18).toString('base64url');
  private clientFirstBare = '';
  serverSignature: Buffer | null = null;

  constructor(
    private readonly mechanism: ScramMech,
    private readonly user: string,
    private readonly password: string,
  ) {}

  first(): Buffer {
    this.clientFirstBare = `n=${this.user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${this.nonce}`;
    return Buffer.from(`n,,${this.clientFirstBare}`);
  }

  final(serverFirst: Buffer): Buffer {
    const text = serverFirst.toString('utf8');
    const attrs = new Map(text.split(',').map((p) => [p[0], p.slice(2)] as [string, string]));
    const nonce = attrs.get('r') ?? '';
    if (!nonce.startsWith(this.nonce)) throw new Error(`server nonce ${nonce} does not extend ours`);
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
    const iterations = Number(attrs.get('i'));
    const salted = saltedPassword(this.mechanism, this.password, salt, iterations);
    const h = hashOf(this.mechanism);
    const clientKey = createHmac(h, salted).update('Client Key').digest();
    const storedKey = createHash(h).update(clientKey).digest();
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${text},${withoutProof}`;
    const signature = createHmac(h, storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i] ^ signature[i];
    const serverKey = createHmac(h, salted).update('Server Key').digest();
    this.serverSignature = createHmac(h, serverKey).update(authMessage).digest();
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
  }
}

export function plainToken(user: string, password: string, authzid = ''): Buffer {
  return Buffer.from(`${authzid}\u0000${user}\u0000${password}`);
}

export function oauthToken(jwt: string): Buffer {
  return Buffer.from(`n,,\u0001auth=Bearer ${jwt}\u0001\u0001`);
}

export interface TestKeys {
  rsa: KeyObject;
  ec: KeyObject;
  /** Not in the JWKS. */
  stranger: KeyObject;
  jwks: { keys: object[] };
}

export function testKeys(): TestKeys {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    rsa: rsa.privateKey,
    ec: ec.privateKey,
    stranger: stranger.privateKey,
    jwks: {
      keys: [
        { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
        { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES256', use: 'sig' },
      ],
    },
  };
}

/** A compact JWS; `alg` RS256 (RSA key) or ES256 (EC key), or 'none' (unsigned). */
export function jwt(claims: Record<string, unknown>, key: KeyObject | null, alg: 'RS256' | 'ES256' | 'none', kid?: string): string {
  const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = enc({ alg, typ: 'JWT', ...(kid === undefined ? {} : { kid }) });
  const body = enc(claims);
  if (alg === 'none' || key === null) return `${head}.${body}.`;
  const data = Buffer.from(`${head}.${body}`);
  const sig = alg === 'ES256' ? sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }) : sign('sha256', data, key);
  return `${head}.${body}.${sig.toString('base64url')}`;
}

export interface HandshakeAnswer {
  errorCode: number;
  mechanisms: string[];
}

export interface AuthAnswer {
  errorCode: number;
  errorMessage: string | null;
  authBytes: Buffer;
  sessionLifetimeMs: number;
}

export function handshake(c: RawClient, mechanism: string): Promise<HandshakeAnswer> {
  return c.request<HandshakeAnswer>(ApiKey.SaslHandshake, 1, SaslHandshakeRequest, SaslHandshakeResponse, { mechanism });
}

export function authenticate(c: RawClient, bytes: Buffer, version = 2): Promise<AuthAnswer> {
  return c.request<AuthAnswer>(ApiKey.SaslAuthenticate, version, SaslAuthenticateRequest, SaslAuthenticateResponse, { authBytes: bytes });
}

/** Handshake + the whole exchange of one mechanism; returns the last SaslAuthenticate answer. */
export async function login(c: RawClient, mechanism: string, user: string, password: string): Promise<AuthAnswer> {
  const h = await handshake(c, mechanism);
  if (h.errorCode !== 0) throw new Error(`SaslHandshake ${mechanism}: error ${h.errorCode}`);
  if (mechanism === 'PLAIN') return authenticate(c, plainToken(user, password));
  const scram = new ScramClient(mechanism as ScramMech, user, password);
  const first = await authenticate(c, scram.first());
  if (first.errorCode !== 0) return first;
  return authenticate(c, scram.final(first.authBytes));
}
