// api/ room: the handler contract shared by every API handler and the dispatcher.
import type { ConnectionSecurity } from '../security/index.js';
import type { ApiServices } from './services.js';

/** Who sent a request, and on which connection. */
export interface RequestContext {
  services: ApiServices;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Remote address:port, for logs and DescribeGroups clientHost. */
  clientHost: string;
  connectionId: number;
  /** The connection's listener, security protocol and principal (the same object for every request of it). */
  security: ConnectionSecurity;
}

/**
 * A handler takes the decoded request body (typed by src/protocol/messages/<api>.ts) and returns
 * the response body. Errors that belong in the response are returned in it; a thrown error closes
 * the connection after logging.
 */
export type Handler<Req = unknown, Res = unknown> = (req: Req, ctx: RequestContext) => Res | Promise<Res>;

/**
 * What happens to a handler's answer: sent, dropped (acks=0), the connection closed, or sent and
 * the connection closed delayMs later (failed SASL authentication).
 */
export type ResponseMode = 'send' | 'none' | 'close' | { kind: 'sendThenClose'; delayMs: number; reason: string };

/** One API as registered with the dispatcher, declared next to its handler. */
export interface ApiRegistration<Req = never, Res = unknown> {
  apiKey: number;
  /** Served versions; default every version protocol/messages declares for the key. */
  versions?: { min: number; max: number };
  handler: Handler<Req, Res>;
  /** Default 'send'. Produce with acks=0 answers nothing, and closes on failure (as Kafka). */
  responseMode?: (req: Req, res: Res, ctx: RequestContext) => ResponseMode;
}

/** Declares a registration with its request/response types checked, stored type-erased. */
export function defineApi<Req, Res>(registration: ApiRegistration<Req, Res>): ApiRegistration {
  return registration as unknown as ApiRegistration;
}
