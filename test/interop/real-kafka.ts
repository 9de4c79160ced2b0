// test/interop room: developer entry point — runs a real Apache Kafka (KRaft, from the Maven jars)
// on a random loopback port, prints its bootstrap address as JSON, and stops on SIGINT/SIGTERM or
// after SPOOL_REAL_KAFKA_SECONDS (default 1800). Used to check the client programs against the
// reference broker: node dist/test/interop/real-kafka.js
import { startRealKafka } from './kafka-tools.js';
import { tempDir, removeDir } from './common.js';

const dir = tempDir('real-kafka');
const kafka = await startRealKafka(dir);
console.log(JSON.stringify({ bootstrap: kafka.bootstrap, logDir: kafka.logDir }));
const lifetimeMs = Number(process.env.SPOOL_REAL_KAFKA_SECONDS ?? 1800) * 1000;
const shutdown = async () => {
  await kafka.stop();
  removeDir(dir);
  process.exit(0);
};
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
setTimeout(() => void shutdown(), lifetimeMs);
