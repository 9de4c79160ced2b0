// log/ and replication/ room tests (issue 15 item 5): DeferredSync, the group fsync of the files a
// batch of new partitions writes (ReplicaManager.addPartitions), and the leader epoch cache's
// reading of a checkpoint a crash left empty before that batch's flush.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DeferredSync, writeFileAtomic } from '../../src/log/index.js';
import { LEADER_EPOCH_CHECKPOINT, LeaderEpochFileCache } from '../../src/replication/leader-epoch-cache.js';
import { tempDir } from '../helpers/broker.js';

t.test('writeFileAtomic with a DeferredSync writes and renames at once; flush fsyncs every file and directory', async (t) => {
  const { dir, cleanup } = tempDir('spool-deferred-');
  t.teardown(cleanup);
  const deferred = new DeferredSync();
  for (let i = 0; i < 20; i++) {
    mkdirSync(join(dir, `p-${i}`));
    writeFileAtomic(join(dir, `p-${i}`, 'file'), `content ${i}\n`, deferred);
  }
  deferred.addDir(dir);
  t.equal(deferred.size, 41, '20 files, their 20 directories and the parent');
  t.equal(readFileSync(join(dir, 'p-7', 'file'), 'utf8'), 'content 7\n', 'the content is in place before the flush');
  t.notOk(existsSync(join(dir, 'p-7', 'file.tmp')), 'no temp file left');
  await deferred.flush();
  t.equal(deferred.size, 0, 'a flush empties it');
  // A directory removed before the flush (a topic deleted meanwhile) is not an error.
  writeFileAtomic(join(dir, 'p-3', 'file'), 'again\n', deferred);
  rmSync(join(dir, 'p-3'), { recursive: true });
  await t.rejects(deferred.flush(), { code: 'ENOENT' }, 'a file gone before the flush fails it (its data could not be made durable)');
  deferred.addDir(join(dir, 'gone'));
  await deferred.flush();
  t.pass('a directory gone before the flush is skipped');
});

t.test('leader epoch cache: an empty checkpoint reads as no entries; a new cache defers only without history', async (t) => {
  const { dir, cleanup } = tempDir('spool-epochs-');
  t.teardown(cleanup);
  writeFileSync(join(dir, LEADER_EPOCH_CHECKPOINT), '');
  const deferred = new DeferredSync();
  const cache = new LeaderEpochFileCache(dir, deferred);
  t.equal(cache.latestEpoch(), -1, 'empty file: no epochs');
  cache.assign(0, 0);
  t.equal(deferred.size, 2, 'the first write of a cache without history is deferred (file and directory)');
  t.equal(readFileSync(join(dir, LEADER_EPOCH_CHECKPOINT), 'utf8'), '0\n1\n0 0\n');
  cache.stopDeferring();
  cache.assign(1, 5);
  t.equal(deferred.size, 2, 'after stopDeferring a write syncs by itself');
  await deferred.flush();
  const withHistory = new LeaderEpochFileCache(dir, deferred);
  withHistory.assign(2, 9);
  t.equal(deferred.size, 0, 'a cache with history never defers');
  t.equal(readFileSync(join(dir, LEADER_EPOCH_CHECKPOINT), 'utf8'), '0\n3\n0 0\n1 5\n2 9\n');
  writeFileSync(join(dir, LEADER_EPOCH_CHECKPOINT), '0\n2\n0 0\n');
  t.throws(() => new LeaderEpochFileCache(dir), /malformed/, 'a non-empty malformed file is still refused');
});
