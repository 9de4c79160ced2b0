// replication/ room: what a produced batch must satisfy beyond the engine's structural checks
// (Kafka's LogValidator / ProducerAppendInfo, the parts that depend on topic config and producer
// state): no control batches from clients, transactional batches carry a producer id, CreateTime within
// message.timestamp.before/after.max.ms.
import type { TopicConfig } from '../config/index.js';
import { ErrorCode, KafkaError } from '../errors.js';
import type { BatchHeaderView } from '../records/batch-layout.js';

export function checkClientBatches(headers: readonly BatchHeaderView[], config: TopicConfig, now: number, where: { topic: string; partition: number }): void {
  for (const h of headers) {
    if (h.isControl) throw new KafkaError(ErrorCode.INVALID_RECORD, 'Clients may not write control batches', where);
    if (h.isTransactional && h.producerId < 0) {
      throw new KafkaError(ErrorCode.INVALID_RECORD, 'A transactional batch must carry a producer id', { ...where, batchPosition: h.position });
    }
    if (config.messageTimestampType === 'CreateTime' && !h.isLogAppendTime) {
      const before = config.timestampBeforeMaxMs;
      const after = config.timestampAfterMaxMs;
      for (const ts of [h.baseTimestamp, h.maxTimestamp]) {
        if (ts >= 0 && (now - ts > before || ts - now > after)) {
          throw new KafkaError(
            ErrorCode.INVALID_TIMESTAMP,
            `Timestamp ${ts} of a batch at offset position ${h.position} is out of range (message.timestamp.before.max.ms=${before}, message.timestamp.after.max.ms=${after})`,
            where,
          );
        }
      }
    }
  }
}
