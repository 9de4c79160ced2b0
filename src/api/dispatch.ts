// api/ room: the dispatcher the network layer calls for every frame — header, version check, body
// decode, handler, encode — with Fastify-style hooks (onRequest, preHandler, onResponse, onError)
// where authentication, ACLs, quotas and request metrics attach, and the rules for what closes a
// connection.
import type { Logger } from 'pino';
import { errorCodeOf } from '../errors.js';
import type { ConnectionInfo, RequestOutcome } from '../network/index.js';
import {
  ApiKey,
  apiName,
  decodeRequestBody,
  decodeRequestHeader,
  encodeApiVersionsUnsupported,
  encodeResponse,
  isSupported,
  ProtocolError,
  supportedApis,
  type ApiVersionRange,
  type RequestHeader,
} from '../protocol/index.js';
import { authorizationLayer } from './authorize.js';
import type { ApiServices } from './services.js';
import type { ApiRegistration, RequestContext, ResponseMode } from './types.js';

/**
 * Ends the fd leases of the file slices (FileSlice, storage/engine.ts) anywhere in a response
 * that will not be sent. Only on that path: it walks the whole response object.
 */
function releaseSlices(value: unknown, depth = 0): void {
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value) || depth > 8) return;
  if (Array.isArray(value)) {
    for (const v of value) releaseSlices(v, depth + 1);
    return;
  }
  const o = value as Record<string, unknown>;
  if (typeof o.fd === 'number' && typeof o.release === 'function') {
    (o.release as () => void)();
    return;
  }
  for (const v of Object.values(o)) releaseSlices(v, depth + 1);
}

/**
 * Runs for every frame before its header is parsed. A hook that claims the frame returns its
 * outcome: its own (the raw SASL tokens that follow SaslHandshake v0 are not Kafka requests) or
 * next()'s, the frame processed as a request (later, e.g. once the frames before it were). Null:
 * not claimed.
 */
export type OnFrameHook = (frame: Buffer, conn: ConnectionInfo, next: () => Promise<RequestOutcome>) => Promise<RequestOutcome> | null;
/** Runs once the header is decoded, before the body; throwing closes the connection. */
export type OnRequestHook = (ctx: RequestContext) => void | Promise<void>;
/** Runs with the decoded body before the handler; throwing closes the connection. */
export type PreHandlerHook = (ctx: RequestContext, body: unknown) => void | Promise<void>;
/** Runs after the outcome is known (metrics): never changes it. */
export type OnResponseHook = (ctx: RequestContext, outcome: RequestOutcome['kind'], durationMs: number) => void;
/** Runs when a hook or handler threw, before the connection closes. */
export type OnErrorHook = (ctx: RequestContext, err: unknown) => void;
/** Runs with the decoded request and the handler's response (per-topic metrics); never changes them. */
export type OnHandledHook = (ctx: RequestContext, request: unknown, response: unknown) => void;

interface Hooks {
  onFrame: OnFrameHook[];
  onRequest: OnRequestHook[];
  preHandler: PreHandlerHook[];
  onResponse: OnResponseHook[];
  onError: OnErrorHook[];
  onHandled: OnHandledHook[];
}

export class Dispatcher {
  private readonly registrations = new Map<number, ApiRegistration>();
  private readonly hooks: Hooks = { onFrame: [], onRequest: [], preHandler: [], onResponse: [], onError: [], onHandled: [] };
  /** With an authorizer (authorizer.class.name): wraps each handler in its API's authorization rule. */
  private readonly authorize: ((registration: ApiRegistration) => ApiRegistration) | null;

  constructor(
    private readonly services: ApiServices,
    private readonly logger: Logger,
  ) {
    this.authorize = authorizationLayer(services);
  }

  register(registration: ApiRegistration): this {
    if (this.registrations.has(registration.apiKey)) throw new Error(`${apiName(registration.apiKey)} is registered twice`);
    this.registrations.set(registration.apiKey, this.authorize?.(registration) ?? registration);
    return this;
  }

  addHook(name: 'onFrame', hook: OnFrameHook): this;
  addHook(name: 'onRequest', hook: OnRequestHook): this;
  addHook(name: 'preHandler', hook: PreHandlerHook): this;
  addHook(name: 'onResponse', hook: OnResponseHook): this;
  addHook(name: 'onError', hook: OnErrorHook): this;
  addHook(name: 'onHandled', hook: OnHandledHook): this;
  addHook(name: keyof Hooks, hook: OnFrameHook | OnRequestHook | PreHandlerHook | OnResponseHook | OnErrorHook | OnHandledHook): this {
    (this.hooks[name] as Array<typeof hook>).push(hook);
    return this;
  }

  private serves(apiKey: number, apiVersion: number): boolean {
    const registration = this.registrations.get(apiKey);
    if (!registration || !isSupported(apiKey, apiVersion)) return false;
    const v = registration.versions;
    return v === undefined || (apiVersion >= v.min && apiVersion <= v.max);
  }

  /** What ApiVersions advertises: the versions both decoded and served by a handler. */
  advertisedApis(): ApiVersionRange[] {
    return supportedApis((apiKey) => this.registrations.has(apiKey)).map((a) => {
      const v = this.registrations.get(a.apiKey)?.versions;
      return v === undefined ? a : { apiKey: a.apiKey, minVersion: Math.max(a.minVersion, v.min), maxVersion: Math.min(a.maxVersion, v.max) };
    });
  }

  /** The network layer's RequestProcessor. */
  readonly process = (frame: Buffer, conn: ConnectionInfo): Promise<RequestOutcome> => this.processFrom(0, frame, conn);

  /** The frame through the onFrame hooks from `first` on, then as a request. */
  private processFrom(first: number, frame: Buffer, conn: ConnectionInfo): Promise<RequestOutcome> {
    for (let i = first; i < this.hooks.onFrame.length; i++) {
      let claimed: Promise<RequestOutcome> | null;
      try {
        claimed = this.hooks.onFrame[i](frame, conn, () => this.processFrom(i + 1, frame, conn));
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      if (claimed !== null) return claimed;
    }
    return this.processRequest(frame, conn);
  }

  private async processRequest(frame: Buffer, conn: ConnectionInfo): Promise<RequestOutcome> {
    const started = performance.now();
    let header: RequestHeader;
    try {
      header = decodeRequestHeader(frame);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.logger.warn({ connectionId: conn.connectionId, clientHost: conn.clientHost, frameBytes: frame.length, reason: err.message }, 'unparseable request header');
      return { kind: 'close', reason: `unparseable request header: ${err.message}` };
    }
    const { apiKey, apiVersion, correlationId } = header;
    const ctx: RequestContext = {
      services: this.services,
      apiKey,
      apiVersion,
      correlationId,
      clientId: header.clientId,
      clientHost: conn.clientHost,
      connectionId: conn.connectionId,
      security: conn.security,
    };
    const outcome = await this.run(frame, header, ctx);
    const durationMs = performance.now() - started;
    for (const hook of this.hooks.onResponse) {
      try {
        hook(ctx, outcome.kind, durationMs);
      } catch (err) {
        this.logger.error({ err, api: apiName(apiKey) }, 'onResponse hook failed');
      }
    }
    return outcome;
  }

  private logContext(ctx: RequestContext): Record<string, unknown> {
    return {
      connectionId: ctx.connectionId,
      clientHost: ctx.clientHost,
      clientId: ctx.clientId,
      api: apiName(ctx.apiKey),
      apiVersion: ctx.apiVersion,
      correlationId: ctx.correlationId,
    };
  }

  private failed(ctx: RequestContext, err: unknown, what: string): RequestOutcome {
    for (const hook of this.hooks.onError) {
      try {
        hook(ctx, err);
      } catch (hookErr) {
        this.logger.error({ err: hookErr }, 'onError hook failed');
      }
    }
    // A hook refusing on purpose (the SASL gate: not authenticated, session expired) logged why itself.
    const quiet = typeof err === 'object' && err !== null && (err as { closeQuietly?: unknown }).closeQuietly === true;
    if (!quiet) this.logger.error({ ...this.logContext(ctx), err, errorCode: errorCodeOf(err) }, `${what}; closing connection`);
    return { kind: 'close', reason: `${apiName(ctx.apiKey)} ${what}` };
  }

  private async run(frame: Buffer, header: RequestHeader, ctx: RequestContext): Promise<RequestOutcome> {
    const { apiKey, apiVersion, correlationId } = header;
    if (!this.serves(apiKey, apiVersion)) {
      if (apiKey === ApiKey.ApiVersions) {
        // Answer in the v0 format with our versions so the client can retry with one we know: the
        // same list as a normal ApiVersions answer (only APIs a handler serves).
        return { kind: 'response', response: encodeApiVersionsUnsupported(correlationId, this.advertisedApis()) };
      }
      // Kafka closes the connection on an API or version it does not support.
      this.logger.warn(this.logContext(ctx), 'unsupported API or version; closing connection');
      return { kind: 'close', reason: `unsupported ${apiName(apiKey)} v${apiVersion}` };
    }
    const registration = this.registrations.get(apiKey) as ApiRegistration<unknown>;
    try {
      // A hook that returns nothing (the SASL gate) costs no turn of the microtask queue.
      for (const hook of this.hooks.onRequest) {
        const pending = hook(ctx);
        if (pending !== undefined) await pending;
      }
    } catch (err) {
      return this.failed(ctx, err, 'onRequest hook refused the request');
    }
    let body: unknown;
    try {
      body = decodeRequestBody(apiKey, apiVersion, frame, header.bodyOffset);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.logger.warn({ ...this.logContext(ctx), reason: err.message }, 'malformed request body; closing connection');
      return { kind: 'close', reason: `malformed ${apiName(apiKey)} request: ${err.message}` };
    }
    let response: unknown;
    try {
      for (const hook of this.hooks.preHandler) {
        const pending = hook(ctx, body);
        if (pending !== undefined) await pending;
      }
      response = await registration.handler(body, ctx);
    } catch (err) {
      return this.failed(ctx, err, 'handler failed');
    }
    for (const hook of this.hooks.onHandled) {
      try {
        hook(ctx, body, response);
      } catch (err) {
        this.logger.error({ err, api: apiName(apiKey) }, 'onHandled hook failed');
      }
    }
    let mode: ResponseMode;
    let encoded: ReturnType<typeof encodeResponse> | undefined;
    try {
      mode = registration.responseMode?.(body, response, ctx) ?? 'send';
      if (mode !== 'none' && mode !== 'close') encoded = encodeResponse(apiKey, apiVersion, correlationId, response as never);
    } catch (err) {
      releaseSlices(response);
      throw err;
    }
    if (mode === 'none' || mode === 'close' || encoded === undefined) {
      // Not sent: file slices in the response give their fd leases back (FileSlice, storage/engine.ts).
      releaseSlices(response);
      return mode === 'none' ? { kind: 'noResponse' } : { kind: 'close', reason: `${apiName(apiKey)} failed without a response` };
    }
    if (mode === 'send') return { kind: 'response', response: encoded };
    return { kind: 'responseThenClose', response: encoded, delayMs: mode.delayMs, reason: mode.reason };
  }
}
