// coordinator/group room: __consumer_offsets in memory (an in-memory CoordinatorPartitionLog) and
// the manual clock, for unit tests and simulations of the group coordinator without a broker.
import { MemoryPartitionLog } from '../runtime/memory-log.js';

export { ManualClock } from '../runtime/memory-log.js';

/** In-memory __consumer_offsets: 50 partitions unless told otherwise, as offsets.topic.num.partitions. */
export class MemoryOffsetsLog extends MemoryPartitionLog {
  constructor(numPartitions = 50) {
    super(numPartitions);
  }
}
