// api/ room: the handler contract shared by every API handler and the dispatch table.
import type { Broker } from '../broker.js';

/** Who sent a request, and on which connection. */
export interface RequestContext {
  broker: Broker;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Remote address:port, for logs and DescribeGroups clientHost. */
  clientHost: string;
  connectionId: number;
}

/**
 * A handler takes the decoded request body (typed by src/protocol/messages/<api>.ts) and returns
 * the response body. Errors that belong in the response are returned in it; a thrown error closes
 * the connection after logging.
 */
export type Handler<Req = unknown, Res = unknown> = (req: Req, ctx: RequestContext) => Res | Promise<Res>;

/** apiKey → handler. */
export type HandlerTable = Map<number, Handler<never, unknown>>;
