// test/interop room (transactions, issue 13): a Kafka Streams application with
// processing.guarantee=exactly_once_v2, and the tools test/interop/streams-eos.test.ts drives it
// with. The program only reports (JSON lines on stdout, the client's log on stderr); the test
// decides pass or fail.
//
//   setup   <bootstrap> <inTopic> <outTopic> <partitions>
//           Admin.createTopics of the input and output topics -> {"created": [...], "error"}
//   produce <bootstrap> <inTopic> <from> <to> <keys>
//           idempotent producer (acks=all): input record i (from <= i < to) has key "r<i>" and
//           value "k<i % keys>" (the key it is counted under) -> {"produced", "error"}
//   app     <bootstrap> <appId> <inTopic> <outTopic> <stateDir> <delayMs>
//           the Streams app: stream(in) -> groupBy(value) (a repartition topic) -> count()
//           (a RocksDB store with a changelog) -> toStream() -> to(out), String keys, Long counts,
//           record cache off (one output record per input record), exactly_once_v2. delayMs > 0
//           sleeps that long per count update (so a kill -9 lands mid-processing, with output in
//           the open transaction). Prints {"state": ...} on each state change and
//           {"processed": n} (count updates made) as it goes; SIGTERM closes it
//           cleanly (KafkaStreams.close: last commit, no LeaveGroup — Streams' consumer keeps
//           internal.leave.group.on.close=false, so the member expires after session.timeout.ms)
//           and prints {"closed": true|false}; a fatal Streams error
//           prints {"fatal": ...} and exits 3.
//   offsets <bootstrap> <topic>
//           beginning and end offsets (read_uncommitted) per partition -> {"begin": {p: n}, "end": {p: n}, "error"}
//   read    <bootstrap> <outTopic> <isolation> <expected> <timeoutMs>
//           assign+seekToBeginning consumer (read_committed | read_uncommitted): reads until it
//           has `expected` records and has reached endOffsets (or the timeout), then prints
//           {"records", "reachedEnd", "perKey": {key: [counts in offset order, per partition]},
//            "offsets": {key: [partition/offset, ...]}, "ends": {p: n}, "positions": {p: n}}
package spool.interop.streams;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

public final class StreamsEos {
  private StreamsEos() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1) usage();
    switch (args[0]) {
      case "setup" -> setup(args);
      case "produce" -> produce(args);
      case "app" -> app(args);
      case "read" -> read(args);
      case "offsets" -> offsets(args);
      default -> usage();
    }
  }

  private static void usage() {
    System.err.println("usage: StreamsEos setup|produce|app|read ... (see the file header)");
    System.exit(2);
  }

  private static void need(String[] args, int n) {
    if (args.length < n) usage();
  }

  // ---- setup ------------------------------------------------------------------------------------

  private static void setup(String[] args) throws Exception {
    need(args, 5);
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[1]);
    int partitions = Integer.parseInt(args[4]);
    String error = null;
    try (Admin admin = Admin.create(p)) {
      admin.createTopics(List.of(new NewTopic(args[2], partitions, (short) 1), new NewTopic(args[3], partitions, (short) 1)))
          .all().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      error = describe(e);
    }
    System.out.println("{\"created\":[" + json(args[2]) + "," + json(args[3]) + "],\"error\":" + json(error) + "}");
  }

  // ---- produce ----------------------------------------------------------------------------------

  private static void produce(String[] args) throws Exception {
    need(args, 6);
    String topic = args[2];
    int from = Integer.parseInt(args[3]);
    int to = Integer.parseInt(args[4]);
    int keys = Integer.parseInt(args[5]);
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[1]);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
    AtomicLong acked = new AtomicLong();
    AtomicReference<String> error = new AtomicReference<>();
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      for (int i = from; i < to; i++) {
        producer.send(new ProducerRecord<>(topic, "r" + i, "k" + (i % keys)), (md, e) -> {
          if (e != null) error.compareAndSet(null, describe(e));
          else acked.incrementAndGet();
        });
      }
      producer.flush();
    } catch (Exception e) {
      error.compareAndSet(null, describe(e));
    }
    System.out.println("{\"produced\":" + acked.get() + ",\"error\":" + json(error.get()) + "}");
  }

  // ---- app --------------------------------------------------------------------------------------

  private static void app(String[] args) throws Exception {
    need(args, 7);
    String bootstrap = args[1];
    String appId = args[2];
    String inTopic = args[3];
    String outTopic = args[4];
    String stateDir = args[5];
    long delayMs = Long.parseLong(args[6]);

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    // No record cache: every input record yields one output record, so the read_committed output
    // of a key is exactly 1, 2, ..., n (a duplicate or a gap is visible, not only the final count).
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0L);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 500);
    // Purge consumed repartition records (Admin.deleteRecords) every second, not every 30 s, so a
    // short run exercises DeleteRecords as a long-running application would.
    p.put(StreamsConfig.REPARTITION_PURGE_INTERVAL_MS_CONFIG, 1000);
    // Streams sends no LeaveGroup on close, so a stopped or killed instance stays a group member
    // for this long (not the client default of 45 s): the next run's rebalance waits for it.
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6000);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1500);
    // replication.factor stays at Streams' default (-1: the broker's default.replication.factor).

    StreamsBuilder builder = new StreamsBuilder();
    AtomicLong processed = new AtomicLong();
    builder.stream(inTopic, Consumed.with(Serdes.String(), Serdes.String()))
        .groupBy((k, v) -> v, Grouped.with("by-key", Serdes.String(), Serdes.String()))
        .count(Materialized.as("counts"))
        .toStream()
        // Counted here, downstream of the store, and slowed down here: the output and changelog
        // records are then written all through each transaction, so a kill -9 leaves some behind.
        .peek((k, v) -> {
          processed.incrementAndGet();
          if (delayMs > 0) {
            try {
              Thread.sleep(delayMs);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
        })
        .to(outTopic, Produced.with(Serdes.String(), Serdes.Long()));

    KafkaStreams streams = new KafkaStreams(builder.build(), p);
    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<String> fatal = new AtomicReference<>();
    streams.setStateListener((now, before) -> out("{\"state\":" + json(now.name()) + ",\"from\":" + json(before.name()) + "}"));
    streams.setUncaughtExceptionHandler(e -> {
      fatal.compareAndSet(null, describe(e));
      e.printStackTrace();
      done.countDown();
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      boolean closed = streams.close(Duration.ofSeconds(30));
      out("{\"closed\":" + closed + ",\"processed\":" + processed.get() + "}");
      done.countDown();
    }, "close"));

    streams.start();
    long last = -1;
    while (!done.await(200, TimeUnit.MILLISECONDS)) {
      long n = processed.get();
      if (n != last) {
        out("{\"processed\":" + n + "}");
        last = n;
      }
      if (streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.PENDING_ERROR) {
        fatal.compareAndSet(null, "Streams state " + streams.state());
        break;
      }
    }
    if (fatal.get() != null) {
      out("{\"fatal\":" + json(fatal.get()) + ",\"processed\":" + processed.get() + "}");
      streams.close(Duration.ofSeconds(10));
      Runtime.getRuntime().halt(3);
    }
  }

  // ---- read -------------------------------------------------------------------------------------

  private static void read(String[] args) throws Exception {
    need(args, 6);
    String topic = args[2];
    String isolation = args[3];
    long expected = Long.parseLong(args[4]);
    long deadline = System.currentTimeMillis() + Long.parseLong(args[5]);
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[1]);
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    Map<String, List<Long>> perKey = new TreeMap<>();
    Map<String, List<String>> offsets = new TreeMap<>();
    long records = 0;
    boolean reachedEnd = false;
    Map<Integer, Long> ends = new TreeMap<>();
    Map<Integer, Long> positions = new TreeMap<>();
    String error = null;
    try (KafkaConsumer<String, Long> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new LongDeserializer())) {
      List<TopicPartition> tps = new ArrayList<>();
      for (PartitionInfo info : consumer.partitionsFor(topic, Duration.ofSeconds(30))) tps.add(new TopicPartition(topic, info.partition()));
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      while (System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<String, Long> r : consumer.poll(Duration.ofMillis(200))) {
          records++;
          perKey.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(r.value());
          offsets.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(r.partition() + "/" + r.offset());
        }
        if (records < expected) continue;
        Map<TopicPartition, Long> end = consumer.endOffsets(tps, Duration.ofSeconds(10));
        boolean atEnd = true;
        for (TopicPartition tp : tps) if (consumer.position(tp) < end.get(tp)) atEnd = false;
        if (atEnd) {
          reachedEnd = true;
          break;
        }
      }
      Map<TopicPartition, Long> end = consumer.endOffsets(tps, Duration.ofSeconds(10));
      for (TopicPartition tp : tps) {
        ends.put(tp.partition(), end.get(tp));
        positions.put(tp.partition(), consumer.position(tp));
      }
    } catch (Exception e) {
      error = describe(e);
    }
    StringBuilder s = new StringBuilder();
    s.append("{\"records\":").append(records).append(",\"reachedEnd\":").append(reachedEnd).append(",\"error\":").append(json(error));
    s.append(",\"ends\":").append(numbers(ends)).append(",\"positions\":").append(numbers(positions));
    s.append(",\"perKey\":{");
    boolean first = true;
    for (Map.Entry<String, List<Long>> e : perKey.entrySet()) {
      if (!first) s.append(',');
      first = false;
      s.append(json(e.getKey())).append(":[");
      for (int i = 0; i < e.getValue().size(); i++) s.append(i == 0 ? "" : ",").append(e.getValue().get(i));
      s.append(']');
    }
    s.append("},\"offsets\":{");
    first = true;
    for (Map.Entry<String, List<String>> e : offsets.entrySet()) {
      if (!first) s.append(',');
      first = false;
      s.append(json(e.getKey())).append(":[");
      for (int i = 0; i < e.getValue().size(); i++) s.append(i == 0 ? "" : ",").append(json(e.getValue().get(i)));
      s.append(']');
    }
    s.append("}}");
    System.out.println(s);
  }

  // ---- offsets ----------------------------------------------------------------------------------

  private static void offsets(String[] args) throws Exception {
    need(args, 3);
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[1]);
    Map<Integer, Long> begin = new TreeMap<>();
    Map<Integer, Long> end = new TreeMap<>();
    String error = null;
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
      List<TopicPartition> tps = new ArrayList<>();
      for (PartitionInfo info : consumer.partitionsFor(args[2], Duration.ofSeconds(30))) tps.add(new TopicPartition(args[2], info.partition()));
      consumer.beginningOffsets(tps, Duration.ofSeconds(10)).forEach((tp, o) -> begin.put(tp.partition(), o));
      consumer.endOffsets(tps, Duration.ofSeconds(10)).forEach((tp, o) -> end.put(tp.partition(), o));
    } catch (Exception e) {
      error = describe(e);
    }
    System.out.println("{\"begin\":" + numbers(begin) + ",\"end\":" + numbers(end) + ",\"error\":" + json(error) + "}");
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private static synchronized void out(String line) {
    System.out.println(line);
    System.out.flush();
  }

  private static String numbers(Map<Integer, Long> m) {
    StringBuilder s = new StringBuilder("{");
    boolean first = true;
    for (Map.Entry<Integer, Long> e : m.entrySet()) {
      if (!first) s.append(',');
      first = false;
      s.append('"').append(e.getKey()).append("\":").append(e.getValue());
    }
    return s.append('}').toString();
  }

  /** "ExceptionClass: message" of the innermost cause worth naming (unwraps ExecutionException). */
  private static String describe(Throwable e) {
    Throwable t = e;
    while ((t instanceof java.util.concurrent.ExecutionException || t instanceof java.util.concurrent.CompletionException) && t.getCause() != null) {
      t = t.getCause();
    }
    StringBuilder s = new StringBuilder(t.getClass().getSimpleName() + ": " + t.getMessage());
    Throwable c = t.getCause();
    for (int i = 0; c != null && i < 3; i++, c = c.getCause()) s.append(" <- ").append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
    return s.toString();
  }

  private static String json(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
        }
      }
    }
    return b.append('"').toString();
  }
}
