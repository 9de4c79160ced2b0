// api/ room: DescribeLogDirs — the one log dir of this broker, with each partition replica's size
// and lag (log end offset minus high watermark), and the dir's total and usable bytes (v4+).
import { statfsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ErrorCode } from '../errors.js';
import { ApiKey } from '../protocol/index.js';
import type { DescribeLogDirsRequest, DescribeLogDirsResponse } from '../protocol/messages/describe-log-dirs.js';
import type { Partition } from '../replication/index.js';
import { defineApi, type RequestContext } from './types.js';

type DirResult = DescribeLogDirsResponse['results'][number];
type TopicResult = DirResult['topics'][number];

function describePartition(p: Partition): TopicResult['partitions'][number] {
  let partitionSize = 0;
  try {
    for (const s of p.log.segments()) partitionSize += s.sizeInBytes;
  } catch {
    // A log being reopened for a config change: report it empty rather than fail the request.
    partitionSize = 0;
  }
  return { partitionIndex: p.index, partitionSize, offsetLag: Math.max(0, p.logEndOffset - p.highWatermark), isFutureKey: false };
}

export function handleDescribeLogDirs(req: DescribeLogDirsRequest, ctx: RequestContext): DescribeLogDirsResponse {
  const { replicaManager, config } = ctx.services;
  const wanted = req.topics === null ? null : new Map(req.topics.map((t) => [t.topic, new Set(t.partitions)]));
  const byTopic = new Map<string, TopicResult>();
  for (const p of replicaManager.allPartitions()) {
    const filter = wanted?.get(p.topic);
    if (wanted !== null && filter?.has(p.index) !== true) continue;
    let topic = byTopic.get(p.topic);
    if (topic === undefined) {
      topic = { name: p.topic, partitions: [] };
      byTopic.set(p.topic, topic);
    }
    topic.partitions.push(describePartition(p));
  }
  const logDir = resolve(config.logDir);
  let totalBytes = -1;
  let usableBytes = -1;
  try {
    const fs = statfsSync(logDir);
    totalBytes = fs.blocks * fs.bsize;
    usableBytes = fs.bavail * fs.bsize;
  } catch {
    // statfs is not available everywhere (older Node on some platforms): -1 means unknown.
  }
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    results: [{ errorCode: ErrorCode.NONE, logDir, topics: [...byTopic.values()], totalBytes, usableBytes }],
  };
}

export const describeLogDirsApi = defineApi({ apiKey: ApiKey.DescribeLogDirs, handler: handleDescribeLogDirs });
