// security/ room: how a SASL exchange fails. The message is what the client reads in
// SaslAuthenticate's errorMessage, so it follows Kafka's wording and never says whether a user exists.

/** Authentication failed: answered with SASL_AUTHENTICATION_FAILED and this message. */
export class SaslAuthenticationError extends Error {
  override readonly name = 'SaslAuthenticationError';
}

/**
 * A failure Kafka reports with its generic text ("Authentication failed during authentication due
 * to invalid credentials with SASL mechanism X"): the detail is only logged.
 */
export class SaslCredentialsError extends Error {
  override readonly name = 'SaslCredentialsError';
}
