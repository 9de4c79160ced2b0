// test/interop room: Apache Kafka's Java client (kafka-clients) driven against a broker.
// It only reports what the client saw, as JSON on stdout; the tap test decides pass or fail.
//
// Usage: JavaClient <mode> <bootstrap> <topic> <count> <codec> <partitions> <baseTs> [timestamps]
//   create   AdminClient createTopics(topic, partitions, rf 1)
//   admin    create + describe + delete a topic with AdminClient
//   produce  KafkaProducer: `count` records of the shared record spec (see test/interop/common.ts)
//   consume  KafkaConsumer assign + seekToBeginning (no group) until `count` records; JSON lines
//   times    KafkaConsumer.offsetsForTimes for each comma-separated timestamp, every partition
package spool.interop;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
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
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class JavaClient {
  private JavaClient() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 7) {
      System.err.println("usage: JavaClient <mode> <bootstrap> <topic> <count> <codec> <partitions> <baseTs> [timestamps]");
      System.exit(2);
    }
    String mode = args[0];
    String bootstrap = args[1];
    String topic = args[2];
    int count = Integer.parseInt(args[3]);
    String codec = args[4];
    int partitions = Integer.parseInt(args[5]);
    long baseTs = Long.parseLong(args[6]);
    switch (mode) {
      case "create" -> create(bootstrap, topic, partitions);
      case "admin" -> admin(bootstrap, topic, partitions);
      case "produce" -> produce(bootstrap, topic, count, codec, partitions, baseTs);
      case "consume" -> consume(bootstrap, topic, count, partitions);
      case "times" -> times(bootstrap, topic, partitions, args.length > 7 ? args[7] : "");
      default -> {
        System.err.println("unknown mode " + mode);
        System.exit(2);
      }
    }
  }

  // The shared record spec: every client program produces exactly these records.
  static String key(int i) { return i % 5 == 0 ? null : "key-" + i; }
  static String value(int i) { return i % 7 == 3 ? null : "value-" + i + "-" + "abcdefghij".repeat(i % 13); }
  static List<Header> headers(int i) {
    List<Header> h = new ArrayList<>();
    if (i % 3 >= 1) h.add(new RecordHeader("h-index", bytes(Integer.toString(i))));
    if (i % 3 == 2) h.add(new RecordHeader("h-parity", bytes(i % 2 == 0 ? "even" : "odd")));
    return h;
  }

  static byte[] bytes(String s) { return s == null ? null : s.getBytes(StandardCharsets.UTF_8); }

  static Properties adminProps(String bootstrap) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 20000);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
    return p;
  }

  static void create(String bootstrap, String topic, int partitions) throws Exception {
    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      String error = null;
      try {
        admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        error = e.getCause().getClass().getSimpleName() + ": " + e.getCause().getMessage();
      }
      System.out.println("{\"created\":" + q(topic) + ",\"error\":" + q(error) + "}");
    }
  }

  static void admin(String bootstrap, String topic, int partitions) throws Exception {
    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      StringBuilder out = new StringBuilder("{");
      admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
      out.append("\"created\":").append(q(topic));
      String dupError = null;
      try {
        admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        dupError = e.getCause().getClass().getSimpleName();
      }
      out.append(",\"duplicateCreateError\":").append(q(dupError));
      Map<String, TopicDescription> d = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS);
      TopicDescription td = d.get(topic);
      out.append(",\"describe\":{\"name\":").append(q(td.name())).append(",\"partitions\":[");
      for (int i = 0; i < td.partitions().size(); i++) {
        var p = td.partitions().get(i);
        if (i > 0) out.append(',');
        out.append("{\"partition\":").append(p.partition())
            .append(",\"leader\":").append(p.leader() == null ? -1 : p.leader().id())
            .append(",\"replicas\":").append(p.replicas().size())
            .append(",\"isr\":").append(p.isr().size()).append('}');
      }
      out.append("]}");
      Set<String> before = admin.listTopics().names().get(30, TimeUnit.SECONDS);
      out.append(",\"listedBeforeDelete\":").append(before.contains(topic));
      admin.deleteTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
      // Deletion is asynchronous in Kafka; poll the listing for a bounded time.
      boolean listedAfter = true;
      for (int attempt = 0; attempt < 50 && listedAfter; attempt++) {
        listedAfter = admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(topic);
        if (listedAfter) Thread.sleep(100);
      }
      out.append(",\"listedAfterDelete\":").append(listedAfter);
      String describeDeletedError = null;
      try {
        admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        describeDeletedError = e.getCause().getClass().getSimpleName();
      }
      out.append(",\"describeDeletedError\":").append(q(describeDeletedError)).append('}');
      System.out.println(out);
    }
  }

  static void produce(String bootstrap, String topic, int count, String codec, int partitions, long baseTs)
      throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    // enable.idempotence and max.in.flight stay at the client's defaults (idempotent, 5 in flight):
    // the broker must serve an unmodified producer.
    p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, 64 * 1024);
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 60000);
    Map<Integer, long[]> perPartition = new TreeMap<>();
    List<String> errors = new ArrayList<>();
    int ok = 0;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      List<Future<RecordMetadata>> futures = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        futures.add(producer.send(new ProducerRecord<>(topic, i % partitions, baseTs + i, bytes(key(i)),
            bytes(value(i)), headers(i))));
      }
      producer.flush();
      for (Future<RecordMetadata> f : futures) {
        try {
          RecordMetadata md = f.get(60, TimeUnit.SECONDS);
          long[] s = perPartition.computeIfAbsent(md.partition(), k -> new long[] {Long.MAX_VALUE, -1, 0});
          s[0] = Math.min(s[0], md.offset());
          s[1] = Math.max(s[1], md.offset());
          s[2]++;
          ok++;
        } catch (ExecutionException e) {
          if (errors.size() < 5) errors.add(e.getCause().toString());
        }
      }
    }
    StringBuilder out = new StringBuilder("{\"produced\":").append(ok).append(",\"errors\":[");
    for (int i = 0; i < errors.size(); i++) out.append(i > 0 ? "," : "").append(q(errors.get(i)));
    out.append("],\"partitions\":{");
    boolean first = true;
    for (var e : perPartition.entrySet()) {
      out.append(first ? "" : ",").append('"').append(e.getKey()).append("\":{\"first\":").append(e.getValue()[0])
          .append(",\"last\":").append(e.getValue()[1]).append(",\"count\":").append(e.getValue()[2]).append('}');
      first = false;
    }
    System.out.println(out.append("}}"));
  }

  static Properties consumerProps(String bootstrap) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000);
    p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
    return p;
  }

  static List<TopicPartition> allPartitions(String topic, int partitions) {
    List<TopicPartition> tps = new ArrayList<>();
    for (int i = 0; i < partitions; i++) tps.add(new TopicPartition(topic, i));
    return tps;
  }

  static void consume(String bootstrap, String topic, int count, int partitions) {
    StringBuilder out = new StringBuilder(count * 120);
    int seen = 0;
    long deadline = System.currentTimeMillis() + 60_000;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(bootstrap))) {
      List<TopicPartition> tps = allPartitions(topic, partitions);
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      while (seen < count && System.currentTimeMillis() < deadline) {
        ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(500));
        for (ConsumerRecord<byte[], byte[]> r : records) {
          out.append("{\"p\":").append(r.partition()).append(",\"o\":").append(r.offset())
              .append(",\"ts\":").append(r.timestamp()).append(",\"k\":").append(q(str(r.key())))
              .append(",\"v\":").append(q(str(r.value()))).append(",\"h\":[");
          boolean first = true;
          for (Header h : r.headers()) {
            out.append(first ? "" : ",").append('[').append(q(h.key())).append(',').append(q(str(h.value()))).append(']');
            first = false;
          }
          out.append("]}\n");
          seen++;
        }
      }
    }
    System.out.print(out);
    System.out.flush();
  }

  static void times(String bootstrap, String topic, int partitions, String timestamps) {
    StringBuilder out = new StringBuilder("{\"results\":[");
    boolean first = true;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(bootstrap))) {
      for (String t : timestamps.split(",")) {
        if (t.isEmpty()) continue;
        long ts = Long.parseLong(t);
        Map<TopicPartition, Long> query = new HashMap<>();
        for (TopicPartition tp : allPartitions(topic, partitions)) query.put(tp, ts);
        Map<TopicPartition, OffsetAndTimestamp> res = consumer.offsetsForTimes(query, Duration.ofSeconds(30));
        for (TopicPartition tp : allPartitions(topic, partitions)) {
          OffsetAndTimestamp oat = res.get(tp);
          out.append(first ? "" : ",").append("{\"ts\":").append(ts).append(",\"p\":").append(tp.partition())
              .append(",\"offset\":").append(oat == null ? -1 : oat.offset())
              .append(",\"timestamp\":").append(oat == null ? -1 : oat.timestamp()).append('}');
          first = false;
        }
      }
    }
    System.out.println(out.append("]}"));
  }

  static String str(byte[] b) { return b == null ? null : new String(b, StandardCharsets.UTF_8); }

  /** JSON string literal (or null); the spec's strings are ASCII, errors may hold quotes. */
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
