// api/ room: DescribeConfigs (every config, with value, source, synonyms, type, documentation),
// AlterConfigs and IncrementalAlterConfigs for topics (applied to the live logs). Broker settings
// are static: altering them is refused as Kafka refuses static configs.
import { describeGroupConfigs, topicConfigByName, validateGroupConfigs, type DescribedConfig } from '../config/index.js';
import { ErrorCode } from '../protocol/index.js';
import { ApiKey } from '../protocol/index.js';
import { errorResponse } from './errors.js';
import type { ApiServices } from './services.js';
import { defineApi, type RequestContext } from './types.js';
import type { AlterConfigsRequest, AlterConfigsResponse } from '../protocol/messages/alter-configs.js';
import type { DescribeConfigsRequest, DescribeConfigsResponse } from '../protocol/messages/describe-configs.js';
import type { IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from '../protocol/messages/incremental-alter-configs.js';

type DescribeConfigsResult = DescribeConfigsResponse['results'][number];
type AlterResult = AlterConfigsResponse['responses'][number];

export const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8, GROUP: 32 } as const;

function brokerResourceProblem(services: ApiServices, resourceName: string): string | null {
  if (resourceName === '' || resourceName === String(services.nodeId)) return null;
  return `Unexpected broker id, expected ${services.nodeId} or empty string, but received ${resourceName}`;
}

export function handleDescribeConfigs(req: DescribeConfigsRequest, ctx: RequestContext): DescribeConfigsResponse {
  const services = ctx.services;
  const includeSynonyms = ctx.apiVersion >= 1 && req.includeSynonyms;
  const includeDocumentation = ctx.apiVersion >= 3 && req.includeDocumentation;
  const results = req.resources.map((r): DescribeConfigsResult => {
    const error = (errorCode: number, errorMessage: string): DescribeConfigsResult => ({
      errorCode,
      errorMessage,
      resourceType: r.resourceType,
      resourceName: r.resourceName,
      configs: [],
    });
    let described: DescribedConfig[];
    if (r.resourceType === ResourceType.TOPIC) {
      const topic = services.metadata.topic(r.resourceName);
      if (!topic) return error(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${r.resourceName}' does not exist.`);
      described = services.config.describeTopic(topic.configs, includeSynonyms, includeDocumentation);
    } else if (r.resourceType === ResourceType.BROKER) {
      const problem = brokerResourceProblem(services, r.resourceName);
      if (problem) return error(ErrorCode.INVALID_REQUEST, problem);
      described = services.config.describeBroker(includeSynonyms, includeDocumentation);
    } else if (r.resourceType === ResourceType.BROKER_LOGGER) {
      return { ...error(ErrorCode.NONE, ''), errorMessage: null };
    } else if (r.resourceType === ResourceType.GROUP) {
      if (r.resourceName === '') return error(ErrorCode.INVALID_REQUEST, 'Group name must not be empty');
      described = describeGroupConfigs(services.metadata.groupConfigs?.(r.resourceName), services.config, includeSynonyms, includeDocumentation);
    } else {
      return error(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${r.resourceType}`);
    }
    const keys = r.configurationKeys;
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      resourceType: r.resourceType,
      resourceName: r.resourceName,
      configs: described
        .filter((d) => keys === null || keys.includes(d.name))
        .map((d) => ({
          name: d.name,
          value: d.value,
          readOnly: d.readOnly,
          isDefault: d.isDefault,
          configSource: d.source,
          isSensitive: d.sensitive,
          synonyms: d.synonyms,
          configType: d.configType,
          documentation: d.documentation,
        })),
    };
  });
  return { throttleTimeMs: 0, results };
}

const OpType = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

/** A request that asks for something impossible (APPEND to a non-list): INVALID_REQUEST. */
class InvalidConfigOp extends Error {}

/** Common path: validate the resource, compute the new override set, apply it. */
async function alterResource(
  ctx: RequestContext,
  resourceType: number,
  resourceName: string,
  validateOnly: boolean,
  compute: (current: Record<string, string>) => Record<string, string | null>,
): Promise<AlterResult> {
  const result = (errorCode: number, errorMessage: string | null): AlterResult => ({ errorCode, errorMessage, resourceType, resourceName });
  if (resourceType === ResourceType.BROKER || resourceType === ResourceType.BROKER_LOGGER) {
    const problem = resourceType === ResourceType.BROKER ? brokerResourceProblem(ctx.services, resourceName) : null;
    return result(ErrorCode.INVALID_REQUEST, problem ?? 'Broker configs are static in Spool: set them in server.properties and restart');
  }
  if (resourceType === ResourceType.GROUP) return alterGroup(ctx, resourceName, validateOnly, compute);
  if (resourceType !== ResourceType.TOPIC) return result(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${resourceType}`);
  const topic = ctx.services.metadata.topic(resourceName);
  if (!topic) return result(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${resourceName}' does not exist.`);
  try {
    const next = compute({ ...topic.configs });
    await ctx.services.metadata.alterTopicConfigs(resourceName, next, { validateOnly });
    return result(ErrorCode.NONE, null);
  } catch (err) {
    if (err instanceof InvalidConfigOp) return result(ErrorCode.INVALID_REQUEST, err.message);
    const info = errorResponse(ctx, err, 'altering configs', { topic: resourceName });
    return result(info.code, info.message);
  }
}

/**
 * A group's configs (ConfigResource GROUP): the new override set is checked as Kafka's controller
 * checks it (GroupConfig.validate over the whole resulting set) and stored in the metadata store,
 * from where every broker reads it.
 */
async function alterGroup(
  ctx: RequestContext,
  groupId: string,
  validateOnly: boolean,
  compute: (current: Record<string, string>) => Record<string, string | null>,
): Promise<AlterResult> {
  const result = (errorCode: number, errorMessage: string | null): AlterResult => ({ errorCode, errorMessage, resourceType: ResourceType.GROUP, resourceName: groupId });
  const store = ctx.services.metadata;
  try {
    const next = compute({ ...(store.groupConfigs?.(groupId) ?? {}) });
    // A null left in the set is a removed (DELETE) key.
    const kept = Object.fromEntries(Object.entries(next).filter(([, v]) => v !== null));
    const validated = validateGroupConfigs(groupId, kept, ctx.services.config);
    if (!validateOnly) {
      if (store.alterGroupConfigs === undefined) return result(ErrorCode.INVALID_REQUEST, 'This metadata store does not keep group configs');
      await store.alterGroupConfigs(groupId, validated);
    }
    return result(ErrorCode.NONE, null);
  } catch (err) {
    if (err instanceof InvalidConfigOp) return result(ErrorCode.INVALID_CONFIG, err.message);
    if (err instanceof NullGroupConfig) return result(ErrorCode.INVALID_REQUEST, err.message);
    const info = errorResponse(ctx, err, 'altering group configs', {});
    return result(info.code, info.message);
  }
}

/** Legacy AlterConfigs with a null value for a group (Kafka: INVALID_REQUEST). */
class NullGroupConfig extends Error {}

export async function handleAlterConfigs(req: AlterConfigsRequest, ctx: RequestContext): Promise<AlterConfigsResponse> {
  const responses: AlterResult[] = [];
  for (const r of req.resources) {
    // AlterConfigs replaces the whole override set with the given one.
    responses.push(
      await alterResource(ctx, r.resourceType, r.resourceName, req.validateOnly, () => {
        const next: Record<string, string | null> = {};
        for (const c of r.configs) next[c.name] = c.value;
        const nulls = r.configs.filter((c) => c.value === null).map((c) => c.name);
        if (r.resourceType === ResourceType.GROUP && nulls.length > 0) throw new NullGroupConfig(`Null value not supported for : ${nulls.join(', ')}`);
        return next;
      }),
    );
  }
  return { throttleTimeMs: 0, responses };
}

export async function handleIncrementalAlterConfigs(req: IncrementalAlterConfigsRequest, ctx: RequestContext): Promise<IncrementalAlterConfigsResponse> {
  const responses: AlterResult[] = [];
  for (const r of req.resources) {
    const names = r.configs.map((c) => c.name);
    if (new Set(names).size !== names.length) {
      responses.push({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate config keys in one resource', resourceType: r.resourceType, resourceName: r.resourceName });
      continue;
    }
    responses.push(
        await alterResource(ctx, r.resourceType, r.resourceName, req.validateOnly, (current) => {
          const next: Record<string, string | null> = { ...current };
          for (const c of r.configs) {
            const def = topicConfigByName.get(c.name);
            if (c.configOperation === OpType.SET) next[c.name] = c.value;
            else if (c.configOperation === OpType.DELETE) next[c.name] = null;
            else if (c.configOperation === OpType.APPEND || c.configOperation === OpType.SUBTRACT) {
              if (r.resourceType === ResourceType.GROUP) {
                throw new InvalidConfigOp(`Can't ${c.configOperation === OpType.APPEND ? 'APPEND' : 'SUBTRACT'} to key ${c.name} because its type is not LIST.`);
              }
              if (def?.type !== 'LIST') throw new InvalidConfigOp(`Config ${c.name} is not a list; APPEND/SUBTRACT apply to list configs only`);
              const currentValue = next[c.name] ?? ctx.services.config.describeTopic({}, false, false).find((d) => d.name === c.name)?.value ?? '';
              const items = currentValue.split(',').filter((s) => s.length > 0);
              const given = (c.value ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
              const result =
                c.configOperation === OpType.APPEND ? [...items, ...given.filter((g) => !items.includes(g))] : items.filter((i) => !given.includes(i));
              next[c.name] = result.join(',');
            } else {
              throw new InvalidConfigOp(`Unknown config operation ${c.configOperation}`);
            }
          }
          return next;
        }),
      );
  }
  return { throttleTimeMs: 0, responses };
}

export const describeConfigsApi = defineApi({ apiKey: ApiKey.DescribeConfigs, handler: handleDescribeConfigs });
export const alterConfigsApi = defineApi({ apiKey: ApiKey.AlterConfigs, handler: handleAlterConfigs });
export const incrementalAlterConfigsApi = defineApi({ apiKey: ApiKey.IncrementalAlterConfigs, handler: handleIncrementalAlterConfigs });
