// protocol/ room: DescribeUserScramCredentials (key 50) and AlterUserScramCredentials (key 51),
// KIP-554: SCRAM credentials managed through the broker. The client salts the password itself
// (salt, iterations, SaltedPassword); mechanisms are numbered 1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512.
import { array, bytes, int8, int16, int32, message, string, type Infer, type InferInput } from '../schema.js';

export const DescribeUserScramCredentialsRequest = message({
  name: 'DescribeUserScramCredentialsRequest',
  apiKey: 50,
  versions: '0',
  flexible: '0+',
  fields: {
    users: array({ name: string() }, { nullable: '0+' }),
  },
});
export type DescribeUserScramCredentialsRequest = Infer<typeof DescribeUserScramCredentialsRequest>;

export const DescribeUserScramCredentialsResponse = message({
  name: 'DescribeUserScramCredentialsResponse',
  apiKey: 50,
  versions: '0',
  flexible: '0+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16(),
    errorMessage: string({ nullable: '0+', default: null }),
    results: array({
      user: string(),
      errorCode: int16(),
      errorMessage: string({ nullable: '0+', default: null }),
      credentialInfos: array({ mechanism: int8(), iterations: int32() }),
    }),
  },
});
export type DescribeUserScramCredentialsResponse = InferInput<typeof DescribeUserScramCredentialsResponse>;

export const AlterUserScramCredentialsRequest = message({
  name: 'AlterUserScramCredentialsRequest',
  apiKey: 51,
  versions: '0',
  flexible: '0+',
  fields: {
    deletions: array({ name: string(), mechanism: int8() }),
    upsertions: array({ name: string(), mechanism: int8(), iterations: int32(), salt: bytes(), saltedPassword: bytes() }),
  },
});
export type AlterUserScramCredentialsRequest = Infer<typeof AlterUserScramCredentialsRequest>;

export const AlterUserScramCredentialsResponse = message({
  name: 'AlterUserScramCredentialsResponse',
  apiKey: 51,
  versions: '0',
  flexible: '0+',
  fields: {
    throttleTimeMs: int32(),
    results: array({ user: string(), errorCode: int16(), errorMessage: string({ nullable: '0+', default: null }) }),
  },
});
export type AlterUserScramCredentialsResponse = InferInput<typeof AlterUserScramCredentialsResponse>;
