// api/ room: a per-request "may this principal <operation> this topic?" predicate, for handlers
// that must filter topics the request does not name (a consumer group's regex matches, a share
// session's partitions). Null when the broker runs without an authorizer (everything allowed).
import { apiName } from '../protocol/index.js';
import { AclOperation, ResourceType, clientAddress, type Requester } from '../security/authorizer/index.js';
import { authorizerOf } from './authorize.js';
import type { RequestContext } from './types.js';

/** `(topic) => allowed` for the request's principal, answers cached per topic; null without an authorizer. */
export function topicAccess(ctx: RequestContext, operation: AclOperation): ((topic: string) => boolean) | null {
  const authorizer = authorizerOf(ctx.services);
  if (authorizer === null) return null;
  const requester: Requester = { principal: ctx.security.principal, host: clientAddress(ctx.clientHost), api: apiName(ctx.apiKey) };
  const answers = new Map<string, boolean>();
  return (topic) => {
    let ok = answers.get(topic);
    if (ok === undefined) {
      ok = authorizer.authorize(requester, { operation, resourceType: ResourceType.TOPIC, resourceName: topic, logIfDenied: false });
      if (answers.size < 10_000) answers.set(topic, ok);
    }
    return ok;
  };
}

/** DESCRIBE on a topic (Kafka's filterTopicDescribeAuthorizedTopics for regex subscriptions). */
export const topicDescribeAccess = (ctx: RequestContext): ((topic: string) => boolean) | null => topicAccess(ctx, AclOperation.DESCRIBE);
