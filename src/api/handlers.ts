// api/ room: the dispatch table — one handler per ApiKey, merged with the group coordinator's.
import { ApiKey } from '../protocol/index.js';
import { makeApiVersionsHandler } from './api-versions.js';
import { handleDescribeCluster, handleInitProducerId } from './cluster.js';
import { handleAlterConfigs, handleDescribeConfigs, handleIncrementalAlterConfigs } from './configs.js';
import { handleFetch } from './fetch.js';
import { groupHandlers } from './group-handlers.js';
import { handleListOffsets, handleOffsetForLeaderEpoch } from './list-offsets.js';
import { handleMetadata } from './metadata.js';
import { handleProduce } from './produce.js';
import { handleCreatePartitions, handleCreateTopics, handleDeleteTopics } from './topics.js';
import type { Handler, HandlerTable } from './types.js';

export function buildHandlerTable(): HandlerTable {
  const table: HandlerTable = new Map();
  const add = <Req, Res>(apiKey: number, handler: Handler<Req, Res>): void => {
    table.set(apiKey, handler as Handler<never, unknown>);
  };
  add(ApiKey.ApiVersions, makeApiVersionsHandler(table));
  add(ApiKey.Metadata, handleMetadata);
  add(ApiKey.Produce, handleProduce);
  add(ApiKey.Fetch, handleFetch);
  add(ApiKey.ListOffsets, handleListOffsets);
  add(ApiKey.OffsetForLeaderEpoch, handleOffsetForLeaderEpoch);
  add(ApiKey.CreateTopics, handleCreateTopics);
  add(ApiKey.DeleteTopics, handleDeleteTopics);
  add(ApiKey.CreatePartitions, handleCreatePartitions);
  add(ApiKey.DescribeConfigs, handleDescribeConfigs);
  add(ApiKey.AlterConfigs, handleAlterConfigs);
  add(ApiKey.IncrementalAlterConfigs, handleIncrementalAlterConfigs);
  add(ApiKey.DescribeCluster, handleDescribeCluster);
  add(ApiKey.InitProducerId, handleInitProducerId);
  for (const [apiKey, handler] of groupHandlers) table.set(apiKey, handler);
  return table;
}
