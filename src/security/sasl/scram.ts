// security/ room: SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka's broker speaks
// them — credentials derived from a salted password (only salt, iterations, StoredKey and ServerKey
// are kept), and the server side of the two-message exchange, including Kafka's extensions
// (tokenauth is refused: Spool has no delegation tokens).
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScramCredentialRecord, ScramMechanismName } from '../../cluster/index.js';
import { SaslAuthenticationError, SaslCredentialsError } from './errors.js';

export const SCRAM_MECHANISMS: readonly ScramMechanismName[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512'];

/** Kafka's ScramMechanism numbering on the wire (Describe/AlterUserScramCredentials). */
export const SCRAM_MECHANISM_IDS: ReadonlyMap<number, ScramMechanismName> = new Map([
  [1, 'SCRAM-SHA-256'],
  [2, 'SCRAM-SHA-512'],
]);

export function scramMechanismId(m: ScramMechanismName): number {
  return m === 'SCRAM-SHA-256' ? 1 : 2;
}

/** Kafka's bounds on iterations (ScramMechanism.minIterations, ScramControlManager.MAX_ITERATIONS). */
export const SCRAM_MIN_ITERATIONS = 4096;
export const SCRAM_MAX_ITERATIONS = 16384;

function hashOf(m: ScramMechanismName): 'sha256' | 'sha512' {
  return m === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
}

function hmac(m: ScramMechanismName, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(hashOf(m), key).update(data).digest();
}

/** Hi(password, salt, i) of RFC 5802: PBKDF2 with the mechanism's HMAC over the UTF-8 password (as Kafka: no SASLprep). */
export function saltPassword(m: ScramMechanismName, password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, m === 'SCRAM-SHA-256' ? 32 : 64, hashOf(m));
}

/** StoredKey and ServerKey from a salted password (what AlterUserScramCredentials carries). */
export function credentialFromSaltedPassword(
  user: string,
  m: ScramMechanismName,
  salt: Buffer,
  saltedPassword: Buffer,
  iterations: number,
): ScramCredentialRecord {
  const clientKey = hmac(m, saltedPassword, 'Client Key');
  const storedKey = createHash(hashOf(m)).update(clientKey).digest();
  const serverKey = hmac(m, saltedPassword, 'Server Key');
  return { user, mechanism: m, salt: salt.toString('base64'), storedKey: storedKey.toString('base64'), serverKey: serverKey.toString('base64'), iterations };
}

/** RFC 5802 saslname: "=2C" is ',' and "=3D" is '='; any other '=' is malformed. */
function decodeSaslName(text: string): string {
  if (/=(?!2C|3D)/.test(text)) throw new SaslCredentialsError('Invalid SCRAM username encoding');
  return text.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** attribute=value pairs of one SCRAM message, in order. */
function attributes(message: string): Array<[string, string]> {
  return message.split(',').map((part) => {
    const eq = part.indexOf('=');
    if (eq !== 1) throw new SaslCredentialsError(`Invalid SCRAM message attribute "${part.slice(0, 20)}"`);
    return [part.slice(0, 1), part.slice(2)];
  });
}

const PRINTABLE_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

export type CredentialLookup = (user: string, m: ScramMechanismName) => Promise<ScramCredentialRecord | undefined>;

/** The server side of one SCRAM exchange: two client messages, two server messages. */
export class ScramServer {
  private state: 'first' | 'final' | 'done' = 'first';
  private user = '';
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private credential: ScramCredentialRecord | undefined;

  constructor(
    readonly mechanism: ScramMechanismName,
    private readonly lookup: CredentialLookup,
    /** The server's part of the nonce (tests pass RFC vectors' fixed one). */
    private readonly serverNonce: () => string = () => randomBytes(24).toString('base64url'),
  ) {}

  /** Answers one client message; `done` carries the authenticated user name. */
  async step(token: Buffer): Promise<{ response: Buffer; user?: string }> {
    if (this.state === 'first') return this.first(token.toString('utf8'));
    if (this.state === 'final') return this.final(token.toString('utf8'));
    throw new SaslCredentialsError('Unexpected SCRAM message after the exchange completed');
  }

  private async first(message: string): Promise<{ response: Buffer }> {
    // gs2-header: "n,," or "n,a=<authzid>," (channel binding is not supported: y/p refused).
    const m = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(message);
    if (!m) throw new SaslCredentialsError('Invalid SCRAM client first message');
    this.gs2Header = message.slice(0, message.length - m[3].length);
    this.clientFirstBare = m[3];
    const attrs = attributes(this.clientFirstBare.split(',').slice(0, 2).join(','));
    if (attrs.length < 2 || attrs[0][0] !== 'n' || attrs[1][0] !== 'r') throw new SaslCredentialsError('Invalid SCRAM client first message');
    this.user = decodeSaslName(attrs[0][1]);
    const clientNonce = attrs[1][1];
    if (!PRINTABLE_NONCE.test(clientNonce)) throw new SaslCredentialsError('Invalid SCRAM client nonce');
    // Kafka's extensions follow as key=value pairs; tokenauth=true asks for a delegation token.
    const extensions = this.clientFirstBare.split(',').slice(2);
    if (extensions.some((e) => /^tokenauth=true$/i.test(e))) throw new SaslCredentialsError('Token Authentication is not supported');
    if (this.user === '') throw new SaslCredentialsError('Authentication failed: Invalid user credentials');
    const authzField = m[2] as string | undefined;
    const authzid = authzField === undefined ? '' : decodeSaslName(authzField.slice(2));
    if (authzid !== '' && authzid !== this.user) {
      throw new SaslAuthenticationError('Authentication failed: Client requested an authorization id that is different from username');
    }
    this.credential = await this.lookup(this.user, this.mechanism);
    if (!this.credential) throw new SaslCredentialsError('Authentication failed: Invalid user credentials');
    if (this.credential.iterations < SCRAM_MIN_ITERATIONS) {
      throw new SaslCredentialsError(`Iterations ${this.credential.iterations} is less than the minimum ${SCRAM_MIN_ITERATIONS} for ${this.mechanism}`);
    }
    this.nonce = clientNonce + this.serverNonce();
    this.serverFirst = `r=${this.nonce},s=${this.credential.salt},i=${this.credential.iterations}`;
    this.state = 'final';
    return { response: Buffer.from(this.serverFirst, 'utf8') };
  }

  private final(message: string): Promise<{ response: Buffer; user: string }> {
    this.state = 'done';
    const credential = this.credential;
    if (!credential) throw new SaslCredentialsError('SCRAM exchange out of order');
    const attrs = attributes(message);
    const c = attrs.find(([k]) => k === 'c')?.[1];
    const r = attrs.find(([k]) => k === 'r')?.[1];
    const p = attrs.at(-1);
    if (c === undefined || r === undefined || p?.[0] !== 'p') throw new SaslCredentialsError('Authentication failed: Invalid client final message');
    if (r !== this.nonce) throw new SaslCredentialsError('Invalid client nonce in the final client message.');
    if (Buffer.from(c, 'base64').toString('utf8') !== this.gs2Header) throw new SaslCredentialsError('Invalid channel binding');
    const withoutProof = message.slice(0, message.lastIndexOf(',p='));
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const storedKey = Buffer.from(credential.storedKey, 'base64');
    const proof = Buffer.from(p[1], 'base64');
    const signature = hmac(this.mechanism, storedKey, authMessage);
    if (proof.length !== signature.length) throw new SaslCredentialsError('Invalid client credentials');
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i] ^ signature[i];
    const computed = createHash(hashOf(this.mechanism)).update(clientKey).digest();
    if (computed.length !== storedKey.length || !timingSafeEqual(computed, storedKey)) throw new SaslCredentialsError('Invalid client credentials');
    const serverSignature = hmac(this.mechanism, Buffer.from(credential.serverKey, 'base64'), authMessage);
    return Promise.resolve({ response: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8'), user: this.user });
  }
}
