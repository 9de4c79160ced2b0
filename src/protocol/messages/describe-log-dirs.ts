// protocol/ room: DescribeLogDirs (key 35): per log dir, each partition's size and lag (log end
// offset minus high watermark). Kafka 4 accepts v1+; v3 adds a top-level error, v4 the dir's
// total and usable bytes, v5 whether the dir is cordoned (Spool never cordons its dir: false).
import { array, bool, int16, int32, int64, message, string, type Infer, type InferInput } from '../schema.js';

export const DescribeLogDirsRequest = message({
  name: 'DescribeLogDirsRequest',
  apiKey: 35,
  versions: '1-5',
  flexible: '2+',
  fields: {
    topics: array({ topic: string(), partitions: array(int32()) }, { nullable: '0+' }),
  },
});
export type DescribeLogDirsRequest = Infer<typeof DescribeLogDirsRequest>;

export const DescribeLogDirsResponse = message({
  name: 'DescribeLogDirsResponse',
  apiKey: 35,
  versions: '1-5',
  flexible: '2+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16({ v: '3+', default: 0 }),
    results: array({
      errorCode: int16(),
      logDir: string(),
      topics: array({
        name: string(),
        partitions: array({ partitionIndex: int32(), partitionSize: int64(), offsetLag: int64(), isFutureKey: bool() }),
      }),
      totalBytes: int64({ v: '4+', default: -1 }),
      usableBytes: int64({ v: '4+', default: -1 }),
      isCordoned: bool({ v: '5+', default: false }),
    }),
  },
});
export type DescribeLogDirsResponse = InferInput<typeof DescribeLogDirsResponse>;
