// test/interop room (transactions, issue 13): Apache Kafka's Java client (kafka-clients 4.1) driving
// transactional producers, read_committed / read_uncommitted consumers, ListOffsets by isolation
// level, producer fencing and consume-transform-produce against a broker. Like JavaClient it only
// reports what the client saw, as JSON on stdout (always one summary object, last line, also on
// failure: "fatal" then names the exception); test/interop/txn-java.test.ts decides pass or fail.
//
// Usage: TxnClient <mode> <bootstrap> ...
//   produce-txns <topic> <partitions> <txnId> <txns> <perTxn>
//       creates the topic if absent; initTransactions; transaction t (0-based) sends records
//       g = t*perTxn + j (j < perTxn) to partition g % partitions, key "k-g", value "v-g", header
//       txn=t; flush; even t commit, odd t abort. Reports every record's offset.
//   consume <topic> <partitions> <isolation> <expected>   (isolation: read_committed | read_uncommitted)
//       assign + seekToBeginning, polls until position >= endOffsets (under that isolation) on
//       every partition and `expected` records were read (or nothing moved for 5 s, or 30 s); one
//       JSON line per record
//       {"p","o","k","v","h"} then the summary (endOffsets, positions).
//   open-txn <topic> <partitions> <txnId> <count>
//       begins a transaction, sends `count` records (key "open-i", value "open-v-i", partition
//       i % partitions), flushes, then reports Admin.listOffsets(latest) under READ_COMMITTED and
//       READ_UNCOMMITTED, consumers' endOffsets under both, and what a read_committed consumer can
//       read from the beginning; commits; reports the same again.
//   fence <topic> <txnId>
//       producer A (1-partition topic) sends a-0..a-4 in an open transaction; producer B with the
//       same transactional.id calls initTransactions; A sends a-5, commits, aborts (all should
//       fail); B then commits b-0..b-4. Reports the exceptions A saw and every offset.
//   ctp <inTopic> <outTopic> <partitions> <group> <txnId> <perPartition>
//       consume-transform-produce: writes perPartition input records per partition ("in-p-i"),
//       a read_committed group consumer (subscribe) reads them; txn 1 writes "out-" + value of the
//       first half of every partition and sendOffsetsToTransaction(half) then commits; txn 2 the
//       second half with offsets = end, aborted; txn 3 the second half again, committed. Reports the
//       group's committed offsets (Admin.listConsumerGroupOffsets) after each step.
package spool.interop;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsOptions;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsSpec;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class TxnClient {
  private TxnClient() {}

  /** The summary printed at the end (or by the watchdog / on a fatal error). */
  static final Map<String, Object> report = new LinkedHashMap<>();
  static final StringBuilder recordLines = new StringBuilder();
  static volatile boolean printed = false;

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: TxnClient <mode> <bootstrap> ...");
      System.exit(2);
    }
    long limitMs = Long.parseLong(System.getenv().getOrDefault("SPOOL_TXN_CLIENT_TIMEOUT_MS", "50000"));
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(limitMs);
      } catch (InterruptedException e) {
        return;
      }
      synchronized (report) {
        report.put("fatal", "timeout: the program did not finish within " + limitMs + " ms");
        finish();
      }
      Runtime.getRuntime().halt(3);
    });
    watchdog.setDaemon(true);
    watchdog.start();
    String mode = args[0];
    String bootstrap = args[1];
    report.put("mode", mode);
    report.put("fatal", null);
    try {
      switch (mode) {
        case "produce-txns" -> produceTxns(bootstrap, args[2], Integer.parseInt(args[3]), args[4],
            Integer.parseInt(args[5]), Integer.parseInt(args[6]));
        case "consume" -> consume(bootstrap, args[2], Integer.parseInt(args[3]), args[4], Integer.parseInt(args[5]));
        case "open-txn" -> openTxn(bootstrap, args[2], Integer.parseInt(args[3]), args[4], Integer.parseInt(args[5]));
        case "fence" -> fence(bootstrap, args[2], args[3]);
        case "ctp" -> ctp(bootstrap, args[2], args[3], Integer.parseInt(args[4]), args[5], args[6],
            Integer.parseInt(args[7]));
        default -> {
          System.err.println("unknown mode " + mode);
          System.exit(2);
        }
      }
    } catch (Throwable e) {
      synchronized (report) {
        report.put("fatal", describe(e));
      }
      e.printStackTrace();
    }
    synchronized (report) {
      finish();
    }
    System.exit(0);
  }

  static void finish() {
    if (printed) return;
    printed = true;
    System.out.print(recordLines);
    System.out.println(json(report));
    System.out.flush();
  }

  static void put(String key, Object value) {
    synchronized (report) {
      report.put(key, value);
    }
  }

  // ---- clients --------------------------------------------------------------------------------

  static Properties adminProps(String bootstrap) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20000);
    return p;
  }

  static KafkaProducer<byte[], byte[]> producer(String bootstrap, String txnId) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    if (txnId != null) p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 20000);
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30000);
    p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 60000);
    return new KafkaProducer<>(p);
  }

  static Properties consumerProps(String bootstrap, String isolation) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20000);
    p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
    return p;
  }

  static void createTopic(String bootstrap, String topic, int partitions) throws Exception {
    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      try {
        admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) throw e;
      }
    }
  }

  static List<TopicPartition> partitionsOf(String topic, int partitions) {
    List<TopicPartition> tps = new ArrayList<>();
    for (int i = 0; i < partitions; i++) tps.add(new TopicPartition(topic, i));
    return tps;
  }

  static Map<String, Object> byPartition(Map<TopicPartition, ? extends Object> m) {
    Map<String, Object> out = new TreeMap<>();
    for (var e : m.entrySet()) {
      Object v = e.getValue();
      if (v instanceof OffsetAndMetadata om) v = om.offset();
      if (v instanceof ListOffsetsResult.ListOffsetsResultInfo info) v = info.offset();
      out.put(Integer.toString(e.getKey().partition()), v);
    }
    return out;
  }

  // ---- produce-txns ---------------------------------------------------------------------------

  static void produceTxns(String bootstrap, String topic, int partitions, String txnId, int txns, int perTxn)
      throws Exception {
    createTopic(bootstrap, topic, partitions);
    List<Object> outcomes = new ArrayList<>();
    List<Object> offsets = new ArrayList<>();
    List<String> sendErrors = new ArrayList<>();
    put("transactions", outcomes);
    put("offsets", offsets);
    put("sendErrors", sendErrors);
    try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap, txnId)) {
      producer.initTransactions();
      put("initTransactions", "ok");
      for (int t = 0; t < txns; t++) {
        boolean commit = t % 2 == 0;
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("t", t);
        o.put("outcome", commit ? "commit" : "abort");
        o.put("error", null);
        synchronized (report) {
          outcomes.add(o);
        }
        producer.beginTransaction();
        List<Future<RecordMetadata>> futures = new ArrayList<>(perTxn);
        for (int j = 0; j < perTxn; j++) {
          int g = t * perTxn + j;
          List<Header> h = List.of(new RecordHeader("txn", bytes(Integer.toString(t))));
          futures.add(producer.send(new ProducerRecord<>(topic, g % partitions, null, bytes("k-" + g), bytes("v-" + g), h)));
        }
        // Everything is written before the transaction ends, so aborted records take offsets too
        // (abortTransaction would otherwise drop records still in the accumulator).
        producer.flush();
        for (int j = 0; j < perTxn; j++) {
          try {
            RecordMetadata md = futures.get(j).get(30, TimeUnit.SECONDS);
            synchronized (report) {
              offsets.add(List.of(t * perTxn + j, md.partition(), md.offset()));
            }
          } catch (ExecutionException e) {
            if (sendErrors.size() < 5) sendErrors.add(describe(e.getCause()));
          }
        }
        try {
          if (commit) producer.commitTransaction();
          else producer.abortTransaction();
        } catch (Exception e) {
          o.put("error", describe(e));
          throw e;
        }
      }
    }
  }

  // ---- consume --------------------------------------------------------------------------------

  static void consume(String bootstrap, String topic, int partitions, String isolation, int expected) {
    List<TopicPartition> tps = partitionsOf(topic, partitions);
    int seen = 0;
    long deadline = System.currentTimeMillis() + 30_000;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(bootstrap, isolation))) {
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      Map<TopicPartition, Long> end = consumer.endOffsets(tps, Duration.ofSeconds(20));
      long lastProgress = System.currentTimeMillis();
      while (System.currentTimeMillis() < deadline) {
        boolean atEnd = true;
        for (TopicPartition tp : tps) if (consumer.position(tp) < end.get(tp)) atEnd = false;
        if (atEnd) {
          // Kafka completes a transaction (writes its markers) after EndTxn returned, so the last
          // stable offset may still move: done once the expected records are in and the end
          // holds, or when neither records nor the end moved for 5 s.
          if (seen >= expected || System.currentTimeMillis() - lastProgress > 5000) break;
          Map<TopicPartition, Long> now = consumer.endOffsets(tps, Duration.ofSeconds(20));
          if (!now.equals(end)) lastProgress = System.currentTimeMillis();
          end = now;
        }
        ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(100));
        if (!records.isEmpty()) lastProgress = System.currentTimeMillis();
        for (ConsumerRecord<byte[], byte[]> r : records) {
          synchronized (report) {
            recordLines.append(recordJson(r)).append('\n');
          }
          seen++;
        }
      }
      // One more short poll: nothing may follow once the end offsets are reached.
      for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(300))) {
        synchronized (report) {
          recordLines.append(recordJson(r)).append('\n');
        }
        seen++;
      }
      put("endOffsets", byPartition(consumer.endOffsets(tps, Duration.ofSeconds(20))));
      Map<String, Object> pos = new TreeMap<>();
      for (TopicPartition tp : tps) pos.put(Integer.toString(tp.partition()), consumer.position(tp));
      put("positions", pos);
      put("records", seen);
    }
  }

  static String recordJson(ConsumerRecord<byte[], byte[]> r) {
    StringBuilder out = new StringBuilder();
    out.append("{\"p\":").append(r.partition()).append(",\"o\":").append(r.offset())
        .append(",\"k\":").append(q(str(r.key()))).append(",\"v\":").append(q(str(r.value()))).append(",\"h\":[");
    boolean first = true;
    for (Header h : r.headers()) {
      out.append(first ? "" : ",").append('[').append(q(h.key())).append(',').append(q(str(h.value()))).append(']');
      first = false;
    }
    return out.append("]}").toString();
  }

  // ---- open-txn -------------------------------------------------------------------------------

  static Map<String, Object> offsetsView(String bootstrap, String topic, int partitions) throws Exception {
    List<TopicPartition> tps = partitionsOf(topic, partitions);
    Map<String, Object> view = new LinkedHashMap<>();
    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      Map<TopicPartition, OffsetSpec> latest = new LinkedHashMap<>();
      for (TopicPartition tp : tps) latest.put(tp, OffsetSpec.latest());
      view.put("adminReadCommitted", byPartition(admin.listOffsets(latest,
          new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get(20, TimeUnit.SECONDS)));
      view.put("adminReadUncommitted", byPartition(admin.listOffsets(latest,
          new ListOffsetsOptions(IsolationLevel.READ_UNCOMMITTED)).all().get(20, TimeUnit.SECONDS)));
    }
    for (String isolation : List.of("read_committed", "read_uncommitted")) {
      try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(consumerProps(bootstrap, isolation))) {
        view.put(isolation.equals("read_committed") ? "consumerEndReadCommitted" : "consumerEndReadUncommitted",
            byPartition(c.endOffsets(tps, Duration.ofSeconds(20))));
      }
    }
    // What a read_committed consumer can read from the start: it must stop at the LSO.
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(consumerProps(bootstrap, "read_committed"))) {
      c.assign(tps);
      c.seekToBeginning(tps);
      int n = 0;
      List<String> openSeen = new ArrayList<>();
      Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(20));
      long deadline = System.currentTimeMillis() + 10_000;
      long extraUntil = Long.MAX_VALUE; // once at the end, half a second more for anything beyond it
      while (System.currentTimeMillis() < Math.min(deadline, extraUntil)) {
        boolean atEnd = true;
        for (TopicPartition tp : tps) if (c.position(tp) < end.get(tp)) atEnd = false;
        if (atEnd && extraUntil == Long.MAX_VALUE) extraUntil = System.currentTimeMillis() + 500;
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(100))) {
          n++;
          String v = str(r.value());
          if (v != null && v.startsWith("open-") && openSeen.size() < 5) openSeen.add(v);
        }
      }
      Map<String, Object> pos = new TreeMap<>();
      for (TopicPartition tp : tps) pos.put(Integer.toString(tp.partition()), c.position(tp));
      view.put("readCommittedRecords", n);
      view.put("readCommittedOpenRecords", openSeen);
      view.put("readCommittedPositions", pos);
    }
    return view;
  }

  /**
   * Waits (up to 10 s) until READ_COMMITTED and READ_UNCOMMITTED latest offsets agree: Kafka
   * writes a transaction's markers after EndTxn returned, so the last stable offset catches up
   * with the high watermark shortly after a commit.
   */
  static void awaitStable(String bootstrap, String topic, int partitions) throws Exception {
    Map<TopicPartition, OffsetSpec> latest = new LinkedHashMap<>();
    for (TopicPartition tp : partitionsOf(topic, partitions)) latest.put(tp, OffsetSpec.latest());
    long deadline = System.currentTimeMillis() + 10_000;
    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      while (System.currentTimeMillis() < deadline) {
        Map<String, Object> rc = byPartition(admin.listOffsets(latest,
            new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get(20, TimeUnit.SECONDS));
        Map<String, Object> ru = byPartition(admin.listOffsets(latest,
            new ListOffsetsOptions(IsolationLevel.READ_UNCOMMITTED)).all().get(20, TimeUnit.SECONDS));
        if (rc.equals(ru)) return;
        Thread.sleep(50);
      }
    }
  }

  static void openTxn(String bootstrap, String topic, int partitions, String txnId, int count) throws Exception {
    createTopic(bootstrap, topic, partitions);
    try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap, txnId)) {
      producer.initTransactions();
      producer.beginTransaction();
      List<Future<RecordMetadata>> futures = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        futures.add(producer.send(new ProducerRecord<>(topic, i % partitions, bytes("open-" + i), bytes("open-v-" + i))));
      }
      producer.flush();
      List<Object> offsets = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        RecordMetadata md = futures.get(i).get(30, TimeUnit.SECONDS);
        offsets.add(List.of(i, md.partition(), md.offset()));
      }
      put("offsets", offsets);
      put("whileOpen", offsetsView(bootstrap, topic, partitions));
      producer.commitTransaction();
      put("committed", true);
      awaitStable(bootstrap, topic, partitions);
      put("afterCommit", offsetsView(bootstrap, topic, partitions));
    }
  }

  // ---- fence ----------------------------------------------------------------------------------

  static void fence(String bootstrap, String topic, String txnId) throws Exception {
    createTopic(bootstrap, topic, 1);
    List<Object> aOffsets = new ArrayList<>();
    List<Object> bOffsets = new ArrayList<>();
    put("aOffsets", aOffsets);
    put("bOffsets", bOffsets);
    KafkaProducer<byte[], byte[]> a = producer(bootstrap, txnId);
    try {
      a.initTransactions();
      a.beginTransaction();
      List<Future<RecordMetadata>> fs = new ArrayList<>();
      for (int i = 0; i < 5; i++) fs.add(a.send(new ProducerRecord<>(topic, 0, bytes("a"), bytes("a-" + i))));
      a.flush();
      for (Future<RecordMetadata> f : fs) aOffsets.add(f.get(30, TimeUnit.SECONDS).offset());
      try (KafkaProducer<byte[], byte[]> b = producer(bootstrap, txnId)) {
        b.initTransactions();
        put("bInit", "ok");
        // A, fenced, tries to go on.
        String sendError = null;
        try {
          a.send(new ProducerRecord<>(topic, 0, bytes("a"), bytes("a-5"))).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          sendError = e.getCause().getClass().getSimpleName();
        } catch (Exception e) {
          sendError = e.getClass().getSimpleName();
        }
        put("aSendError", sendError);
        String commitError = null;
        try {
          a.commitTransaction();
        } catch (Exception e) {
          commitError = e.getClass().getSimpleName();
        }
        put("aCommitError", commitError);
        String abortError = null;
        try {
          a.abortTransaction();
        } catch (Exception e) {
          abortError = e.getClass().getSimpleName();
        }
        put("aAbortError", abortError);
        b.beginTransaction();
        fs.clear();
        for (int i = 0; i < 5; i++) fs.add(b.send(new ProducerRecord<>(topic, 0, bytes("b"), bytes("b-" + i))));
        b.flush();
        for (Future<RecordMetadata> f : fs) bOffsets.add(f.get(30, TimeUnit.SECONDS).offset());
        b.commitTransaction();
        put("bCommit", "ok");
      }
    } finally {
      a.close(Duration.ofSeconds(5));
    }
  }

  // ---- ctp ------------------------------------------------------------------------------------

  /**
   * The group's committed offsets. requireStable waits out offsets of a transaction still being
   * completed (Kafka writes its markers after EndTxn returned); the look at an open transaction's
   * offsets must not wait, so it reads without.
   */
  static Map<String, Object> groupOffsets(Admin admin, String group, String topic, int partitions, boolean stable)
      throws Exception {
    // Named partitions: asked for all of a group's offsets, Kafka leaves out partitions whose only
    // offset is a pending transactional one instead of answering UNSTABLE_OFFSET_COMMIT.
    // The admin client drops a partition answered with UNSTABLE_OFFSET_COMMIT (offsets of a
    // transaction still being completed) from the result rather than retrying: retry here.
    List<TopicPartition> tps = partitionsOf(topic, partitions);
    ListConsumerGroupOffsetsSpec spec = new ListConsumerGroupOffsetsSpec().topicPartitions(tps);
    long deadline = System.currentTimeMillis() + 15_000;
    while (true) {
      Map<TopicPartition, OffsetAndMetadata> m = new LinkedHashMap<>(admin.listConsumerGroupOffsets(Map.of(group, spec),
          new ListConsumerGroupOffsetsOptions().requireStable(stable)).partitionsToOffsetAndMetadata(group)
          .get(20, TimeUnit.SECONDS));
      boolean complete = m.keySet().containsAll(tps);
      if (complete || System.currentTimeMillis() > deadline) {
        Map<String, Object> out = new TreeMap<>();
        for (TopicPartition tp : tps) {
          if (!m.containsKey(tp)) out.put(Integer.toString(tp.partition()), "UNSTABLE_OFFSET_COMMIT");
          else if (m.get(tp) != null) out.put(Integer.toString(tp.partition()), m.get(tp).offset());
        }
        return out;
      }
      Thread.sleep(100);
    }
  }

  static void ctp(String bootstrap, String inTopic, String outTopic, int partitions, String group, String txnId,
      int perPartition) throws Exception {
    createTopic(bootstrap, inTopic, partitions);
    createTopic(bootstrap, outTopic, partitions);
    // Input: perPartition records per partition, written without a transaction.
    try (KafkaProducer<byte[], byte[]> plain = producer(bootstrap, null)) {
      for (int p = 0; p < partitions; p++) {
        for (int i = 0; i < perPartition; i++) {
          plain.send(new ProducerRecord<>(inTopic, p, bytes("in-" + p + "-" + i), bytes("in-" + p + "-" + i)));
        }
      }
      plain.flush();
    }
    Properties cp = consumerProps(bootstrap, "read_committed");
    cp.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    Map<Integer, List<ConsumerRecord<byte[], byte[]>>> input = new TreeMap<>();
    Map<String, Object> steps = new LinkedHashMap<>();
    put("steps", steps);
    try (Admin admin = Admin.create(adminProps(bootstrap));
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp);
        KafkaProducer<byte[], byte[]> producer = producer(bootstrap, txnId)) {
      producer.initTransactions();
      consumer.subscribe(List.of(inTopic));
      int seen = 0;
      long deadline = System.currentTimeMillis() + 30_000;
      while (seen < partitions * perPartition && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          input.computeIfAbsent(r.partition(), k -> new ArrayList<>()).add(r);
          seen++;
        }
      }
      put("inputRead", seen);
      put("generation", consumer.groupMetadata().generationId());
      int half = perPartition / 2;
      steps.put("before", groupOffsets(admin, group, inTopic, partitions, true));

      // txn 1: first half of every partition, offsets = half, committed.
      producer.beginTransaction();
      Map<TopicPartition, OffsetAndMetadata> offsets = transform(producer, input, outTopic, 0, half, inTopic);
      producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
      producer.flush();
      steps.put("txn1Open", groupOffsets(admin, group, inTopic, partitions, false));
      producer.commitTransaction();
      steps.put("txn1Committed", groupOffsets(admin, group, inTopic, partitions, true));

      // txn 2: second half, offsets = end, aborted.
      producer.beginTransaction();
      offsets = transform(producer, input, outTopic, half, perPartition, inTopic);
      producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
      producer.flush();
      producer.abortTransaction();
      steps.put("txn2Aborted", groupOffsets(admin, group, inTopic, partitions, true));

      // txn 3: the second half again (as a restarted processor would, from the committed offsets).
      producer.beginTransaction();
      offsets = transform(producer, input, outTopic, half, perPartition, inTopic);
      producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
      producer.commitTransaction();
      steps.put("txn3Committed", groupOffsets(admin, group, inTopic, partitions, true));
      // The consumer's own view (OffsetFetch with require_stable, as read_committed consumers ask).
      Set<TopicPartition> tps = new HashSet<>(partitionsOf(inTopic, partitions));
      steps.put("consumerCommitted", byPartition(consumer.committed(tps, Duration.ofSeconds(20))));
    }
  }

  static Map<TopicPartition, OffsetAndMetadata> transform(KafkaProducer<byte[], byte[]> producer,
      Map<Integer, List<ConsumerRecord<byte[], byte[]>>> input, String outTopic, int from, int to, String inTopic) {
    Map<TopicPartition, OffsetAndMetadata> offsets = new LinkedHashMap<>();
    for (var e : input.entrySet()) {
      List<ConsumerRecord<byte[], byte[]>> rs = e.getValue();
      for (int i = from; i < to && i < rs.size(); i++) {
        ConsumerRecord<byte[], byte[]> r = rs.get(i);
        producer.send(new ProducerRecord<>(outTopic, r.partition(), r.key(), bytes("out-" + str(r.value()))));
      }
      if (to <= rs.size()) offsets.put(new TopicPartition(inTopic, e.getKey()), new OffsetAndMetadata(rs.get(to - 1).offset() + 1));
    }
    return offsets;
  }

  // ---- JSON -----------------------------------------------------------------------------------

  static String describe(Throwable e) {
    Throwable c = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
    return c.getClass().getSimpleName() + ": " + c.getMessage();
  }

  static byte[] bytes(String s) { return s == null ? null : s.getBytes(StandardCharsets.UTF_8); }

  static String str(byte[] b) { return b == null ? null : new String(b, StandardCharsets.UTF_8); }

  static String json(Object v) {
    if (v == null) return "null";
    if (v instanceof String s) return q(s);
    if (v instanceof Number || v instanceof Boolean) return v.toString();
    StringBuilder b = new StringBuilder();
    if (v instanceof Map<?, ?> m) {
      b.append('{');
      boolean first = true;
      for (var e : m.entrySet()) {
        b.append(first ? "" : ",").append(q(String.valueOf(e.getKey()))).append(':').append(json(e.getValue()));
        first = false;
      }
      return b.append('}').toString();
    }
    if (v instanceof List<?> l) {
      b.append('[');
      for (int i = 0; i < l.size(); i++) b.append(i > 0 ? "," : "").append(json(l.get(i)));
      return b.append(']').toString();
    }
    return q(v.toString());
  }

  static String q(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
