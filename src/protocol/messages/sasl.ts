// protocol/ room: SaslHandshake (key 17) and SaslAuthenticate (key 36). After a v0 handshake the
// client sends raw SASL tokens without Kafka framing (served by api/sasl.ts, not decoded here).
import { array, bytes, int16, int64, message, string, type Infer, type InferInput } from '../schema.js';

export const SaslHandshakeRequest = message({
  name: 'SaslHandshakeRequest',
  apiKey: 17,
  versions: '0-1',
  flexible: 'none',
  fields: { mechanism: string() },
});
export type SaslHandshakeRequest = Infer<typeof SaslHandshakeRequest>;

export const SaslHandshakeResponse = message({
  name: 'SaslHandshakeResponse',
  apiKey: 17,
  versions: '0-1',
  flexible: 'none',
  fields: { errorCode: int16(), mechanisms: array(string()) },
});
export type SaslHandshakeResponse = InferInput<typeof SaslHandshakeResponse>;

export const SaslAuthenticateRequest = message({
  name: 'SaslAuthenticateRequest',
  apiKey: 36,
  versions: '0-2',
  flexible: '2+',
  fields: { authBytes: bytes() },
});
export type SaslAuthenticateRequest = Infer<typeof SaslAuthenticateRequest>;

export const SaslAuthenticateResponse = message({
  name: 'SaslAuthenticateResponse',
  apiKey: 36,
  versions: '0-2',
  flexible: '2+',
  fields: {
    errorCode: int16(),
    errorMessage: string({ nullable: '0+', default: null }),
    authBytes: bytes(),
    sessionLifetimeMs: int64({ v: '1+', default: 0 }),
  },
});
export type SaslAuthenticateResponse = InferInput<typeof SaslAuthenticateResponse>;
