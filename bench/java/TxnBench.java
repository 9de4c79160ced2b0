// bench/ room: the JVM load generator of `npm run bench:txn` (bench/txn.ts compiles and drives it).
// One long-lived process serves every target and round, so every broker gets the same client with
// the same JIT state. Apache Kafka's own client (kafka-clients 4.1): transactional producers
// (acks=all, enable.idempotence=true, transactional.id) and a read_committed consumer.
//
// Commands, one per line on stdin; answers on stdout, one line each (anything else goes to stderr):
//   run <id> <bootstrap> <topic> <partitions> <txnId> <perTxn> <valueBytes> <producers> <warmupMs> <windowMs> <slowMs> [k=v ...]
//       creates the topic (RF 1) if absent; `producers` threads, each its own KafkaProducer with
//       transactional.id <txnId>-<i> (initTransactions before the warm-up), each looping
//       begin / `perTxn` sends / commitTransaction. Record keys are 8-byte big-endian longs, unique
//       in the topic (0, 1, 2, ... over all producers of this run), record g of a producer goes to
//       partition g % partitions; values are `valueBytes` bytes. After `warmupMs` it prints
//       "window-start <id>", after `windowMs` more "window-end <id>"; a transaction counts in the
//       window when its commitTransaction returns inside it. Then every producer finishes its
//       current transaction and closes, and it prints "result <id> <json>": window txns, records,
//       seconds, commit latencies (µs, of commitTransaction alone, in the window, unsorted), the
//       commits in the window that took at least `slowMs` (wall-clock start, ms) to match with
//       broker logs, and `committed`: records of every committed transaction of the run (warm-up
//       included), the number the read_committed count must match. Extra k=v are producer settings.
//   verify <id> <bootstrap> <topic> <partitions> <expected>
//       a read_committed consumer (assign, seekToBeginning) reads every partition up to its
//       endOffsets (the last stable offset); prints "verified <id> <json>" with the records read,
//       distinct keys in [0, expected), duplicates, keys out of range, values of the wrong size.
//   quit
// A failure answers "error <id> <message>" and the loop goes on.
package spool.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class TxnBench {
  private TxnBench() {}

  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      String[] a = line.trim().split(" ");
      if (a.length == 0 || a[0].isEmpty()) continue;
      if (a[0].equals("quit")) break;
      String id = a.length > 1 ? a[1] : "-";
      try {
        switch (a[0]) {
          case "run" -> {
            List<String> extra = new ArrayList<>();
            for (int i = 12; i < a.length; i++) extra.add(a[i]);
            String json = run(id, a[2], a[3], Integer.parseInt(a[4]), a[5], Integer.parseInt(a[6]), Integer.parseInt(a[7]),
                Integer.parseInt(a[8]), Long.parseLong(a[9]), Long.parseLong(a[10]), Long.parseLong(a[11]), extra);
            answer("result " + id + " " + json);
          }
          case "verify" -> answer("verified " + id + " " + verify(a[2], a[3], Integer.parseInt(a[4]), Long.parseLong(a[5])));
          default -> answer("error " + id + " unknown command " + a[0]);
        }
      } catch (Throwable e) {
        e.printStackTrace();
        answer("error " + id + " " + describe(e));
      }
    }
    System.exit(0);
  }

  static synchronized void answer(String s) {
    System.out.println(s);
    System.out.flush();
  }

  static String describe(Throwable e) {
    StringBuilder sb = new StringBuilder();
    for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (sb.length() > 0) sb.append(" <- ");
      sb.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
    }
    return sb.toString().replace('\n', ' ');
  }

  // ---- produce --------------------------------------------------------------------------------

  static void createTopic(String bootstrap, String topic, int partitions) throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
    try (Admin admin = Admin.create(p)) {
      long deadline = System.currentTimeMillis() + 60_000;
      while (true) {
        try {
          admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) {
            if (System.currentTimeMillis() > deadline) throw e;
            Thread.sleep(500);
            continue;
          }
        }
        // Until every partition has a leader (a new topic's leaders come up asynchronously).
        var desc = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
        boolean ready = desc.partitions().size() == partitions && desc.partitions().stream().allMatch(tp -> tp.leader() != null);
        if (ready) return;
        if (System.currentTimeMillis() > deadline) throw new IllegalStateException(topic + ": partitions without a leader after 60 s");
        Thread.sleep(200);
      }
    }
  }

  static final class Worker {
    final KafkaProducer<byte[], byte[]> producer;
    long[] latencies = new long[1024];
    int count;
    long windowTxns;
    long windowRecords;
    long committedRecords;
    long partitionCounter;
    final StringBuilder slow = new StringBuilder();

    Worker(KafkaProducer<byte[], byte[]> producer) {
      this.producer = producer;
    }

    void addLatency(long micros) {
      if (count == latencies.length) latencies = java.util.Arrays.copyOf(latencies, count * 2);
      latencies[count++] = micros;
    }
  }

  static final int WARMUP = 0;
  static final int WINDOW = 1;
  static final int STOP = 2;

  static String run(String id, String bootstrap, String topic, int partitions, String txnId, int perTxn, int valueBytes, int producers,
      long warmupMs, long windowMs, long slowMs, List<String> extra) throws Exception {
    createTopic(bootstrap, topic, partitions);
    byte[] value = new byte[valueBytes];
    for (int i = 0; i < valueBytes; i++) value[i] = (byte) (i * 31 + 7);
    AtomicLong keys = new AtomicLong();
    List<Worker> workers = new ArrayList<>();
    try {
      for (int i = 0; i < producers; i++) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId + "-" + i);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 60000);
        for (String kv : extra) {
          int eq = kv.indexOf('=');
          if (eq <= 0) throw new IllegalArgumentException("producer setting k=v expected, got " + kv);
          p.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        Worker w = new Worker(new KafkaProducer<>(p));
        workers.add(w);
        w.producer.initTransactions();
      }
      final int[] phase = { WARMUP };
      AtomicReference<Throwable> failure = new AtomicReference<>();
      List<Thread> threads = new ArrayList<>();
      for (Worker w : workers) {
        Thread t = new Thread(() -> {
          try {
            while (true) {
              synchronized (phase) {
                if (phase[0] == STOP) return;
              }
              w.producer.beginTransaction();
              for (int j = 0; j < perTxn; j++) {
                byte[] key = ByteBuffer.allocate(8).putLong(keys.getAndIncrement()).array();
                int partition = (int) (w.partitionCounter++ % partitions);
                w.producer.send(new ProducerRecord<>(topic, partition, key, value), (md, err) -> {
                  if (err != null) failure.compareAndSet(null, err);
                });
              }
              long wall = System.currentTimeMillis();
              long t0 = System.nanoTime();
              w.producer.commitTransaction();
              long micros = (System.nanoTime() - t0) / 1000;
              w.committedRecords += perTxn;
              synchronized (phase) {
                if (phase[0] == WINDOW) {
                  w.windowTxns++;
                  w.windowRecords += perTxn;
                  w.addLatency(micros);
                  if (micros >= slowMs * 1000) {
                    if (w.slow.length() > 0) w.slow.append(',');
                    w.slow.append("{\"atMs\":").append(wall).append(",\"micros\":").append(micros).append('}');
                  }
                }
              }
            }
          } catch (Throwable e) {
            failure.compareAndSet(null, e);
            synchronized (phase) {
              phase[0] = STOP;
            }
          }
        }, "txn-producer-" + threads.size());
        threads.add(t);
        t.start();
      }
      sleepUnlessStopped(phase, warmupMs);
      long start;
      synchronized (phase) {
        if (phase[0] == WARMUP) phase[0] = WINDOW;
        start = System.nanoTime();
      }
      answer("window-start " + id);
      sleepUnlessStopped(phase, windowMs);
      long end;
      synchronized (phase) {
        phase[0] = STOP;
        end = System.nanoTime();
      }
      answer("window-end " + id);
      for (Thread t : threads) t.join(120_000);
      for (Thread t : threads) if (t.isAlive()) throw new IllegalStateException(t.getName() + " still in a transaction 120 s after the window");
      if (failure.get() != null) throw new RuntimeException("transactional producer failed", failure.get());
      long txns = 0;
      long records = 0;
      long committed = 0;
      StringBuilder lat = new StringBuilder();
      StringBuilder slow = new StringBuilder();
      for (Worker w : workers) {
        if (w.slow.length() > 0) slow.append(slow.length() > 0 ? "," : "").append(w.slow);
        txns += w.windowTxns;
        records += w.windowRecords;
        committed += w.committedRecords;
        for (int i = 0; i < w.count; i++) {
          if (lat.length() > 0) lat.append(',');
          lat.append(w.latencies[i]);
        }
      }
      if (committed != keys.get()) throw new IllegalStateException("committed " + committed + " records but sent " + keys.get());
      return "{\"txns\":" + txns + ",\"records\":" + records + ",\"seconds\":" + ((end - start) / 1e9) + ",\"committed\":" + committed
          + ",\"slowCommits\":[" + slow + "],\"commitMicros\":[" + lat + "]}";
    } finally {
      for (Worker w : workers) w.producer.close(Duration.ofSeconds(30));
    }
  }

  static void sleepUnlessStopped(int[] phase, long ms) throws InterruptedException {
    long deadline = System.nanoTime() + ms * 1_000_000;
    while (true) {
      synchronized (phase) {
        if (phase[0] == STOP) return;
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) return;
      Thread.sleep(Math.min(20, Math.max(1, left / 1_000_000)));
    }
  }

  // ---- verify ---------------------------------------------------------------------------------

  static String verify(String bootstrap, String topic, int partitions, long expected) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 10000);
    p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 4 * 1024 * 1024);
    p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
    long started = System.nanoTime();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      List<TopicPartition> tps = new ArrayList<>();
      for (int i = 0; i < partitions; i++) tps.add(new TopicPartition(topic, i));
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      Map<TopicPartition, Long> ends = consumer.endOffsets(tps);
      if (expected > Integer.MAX_VALUE) throw new IllegalArgumentException("expected too large: " + expected);
      BitSet seen = new BitSet((int) expected);
      long read = 0;
      long duplicates = 0;
      long outOfRange = 0;
      long badValues = 0;
      int valueSize = -1;
      // Bounded: 60 s plus 10 s per million expected records.
      long deadline = System.nanoTime() + (60_000L + expected / 100) * 1_000_000;
      while (true) {
        boolean done = true;
        for (TopicPartition tp : tps) if (consumer.position(tp) < ends.get(tp)) done = false;
        if (done) break;
        if (System.nanoTime() > deadline) throw new IllegalStateException("read_committed consumer did not reach the end offsets " + ends + " in time, read " + read);
        ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofMillis(500));
        for (ConsumerRecord<byte[], byte[]> r : recs) {
          read++;
          if (valueSize < 0) valueSize = r.value() == null ? -1 : r.value().length;
          if (r.value() == null || r.value().length != valueSize) badValues++;
          long k = r.key() != null && r.key().length == 8 ? ByteBuffer.wrap(r.key()).getLong() : -1;
          if (k < 0 || k >= expected) outOfRange++;
          else if (seen.get((int) k)) duplicates++;
          else seen.set((int) k);
        }
      }
      long endSum = 0;
      for (long e : ends.values()) endSum += e;
      return "{\"read\":" + read + ",\"distinct\":" + seen.cardinality() + ",\"duplicates\":" + duplicates + ",\"outOfRange\":" + outOfRange
          + ",\"badValues\":" + badValues + ",\"valueSize\":" + valueSize + ",\"endOffsetSum\":" + endSum + ",\"seconds\":"
          + ((System.nanoTime() - started) / 1e9) + "}";
    }
  }
}
