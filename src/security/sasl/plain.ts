// security/ room: SASL/PLAIN (RFC 4616) as Kafka's PlainSaslServer checks it: one message
// authzid NUL username NUL password, checked against the listener's configured users.
import { createHash, timingSafeEqual } from 'node:crypto';
import { SaslAuthenticationError } from './errors.js';

function sameSecret(a: string, b: string): boolean {
  // Digests first, so the comparison takes the same time whatever the lengths.
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db) && a === b;
}

/** Checks one PLAIN message; returns the user name or throws with Kafka's message. */
export function authenticatePlain(token: Buffer, users: ReadonlyMap<string, string>): string {
  const tokens = token.toString('utf8').split('\u0000');
  if (tokens.length !== 3) throw new SaslAuthenticationError(`Invalid SASL/PLAIN response: expected 3 tokens, got ${tokens.length}`);
  const [authzid, username, password] = tokens;
  if (username === '') throw new SaslAuthenticationError('Authentication failed: username not specified');
  if (password === '') throw new SaslAuthenticationError('Authentication failed: password not specified');
  const expected = users.get(username);
  // Compared against a dummy for an unknown user too, so timing does not tell whether it exists.
  const ok = sameSecret(password, expected ?? '\u0000unknown user\u0000');
  if (expected === undefined || !ok) throw new SaslAuthenticationError('Authentication failed: Invalid username or password');
  if (authzid !== '' && authzid !== username) {
    throw new SaslAuthenticationError('Authentication failed: Client requested an authorization id that is different from username');
  }
  return username;
}
