// replication/ room: hands out producer ids from blocks the metadata store reserves, so an id is
// never given twice, across restarts and (with etcd) across brokers.
import type { MetadataStore, ProducerIdBlock } from '../cluster/index.js';

export class ProducerIdManager {
  private block: ProducerIdBlock = { firstProducerId: 0, size: 0 };
  private next = 0;
  private pending: Promise<void> | null = null;

  constructor(private readonly metadata: MetadataStore) {}

  async generateProducerId(): Promise<number> {
    // Bounded: each pass either returns or waits for a fresh block of at least one id.
    for (let attempt = 0; attempt < 10; attempt++) {
      if (this.next < this.block.firstProducerId + this.block.size) return this.next++;
      this.pending ??= this.metadata.allocateProducerIds().then(
        (block) => {
          this.block = block;
          this.next = block.firstProducerId;
          this.pending = null;
        },
        (err: unknown) => {
          this.pending = null;
          throw err;
        },
      );
      await this.pending;
    }
    throw new Error('could not allocate a producer id block');
  }
}
