// test/interop room (issue 14): Apache Kafka's Java client over SASL. Reports what the client saw
// as one JSON line on stdout; the tap test (test/security/sasl-java.test.ts) decides pass or fail.
//
// Usage: SaslClient <mode> <bootstrap> <client.properties> <topic> <count> <rounds> <pauseMs>
//   roundtrip  create the topic (Admin), produce `count` records per round for `rounds` rounds with
//              `pauseMs` between them (so KIP-368 re-authentication happens in between), then read
//              every record back (assign + seekToBeginning) and report offsets, values and the
//              producer's successful-reauthentication-total metric
//   denied     Admin describeCluster: reports the exception the client got
package spool.interop;

import java.io.FileReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class SaslClient {
  private SaslClient() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 7) {
      System.err.println("usage: SaslClient <mode> <bootstrap> <client.properties> <topic> <count> <rounds> <pauseMs>");
      System.exit(2);
    }
    Properties base = new Properties();
    try (FileReader r = new FileReader(args[2], StandardCharsets.UTF_8)) {
      base.load(r);
    }
    base.put("bootstrap.servers", args[1]);
    base.put("request.timeout.ms", "20000");
    base.put("default.api.timeout.ms", "30000");
    String topic = args[3];
    int count = Integer.parseInt(args[4]);
    int rounds = Integer.parseInt(args[5]);
    long pauseMs = Long.parseLong(args[6]);
    switch (args[0]) {
      case "roundtrip" -> roundtrip(base, topic, count, rounds, pauseMs);
      case "denied" -> denied(base);
      default -> {
        System.err.println("unknown mode " + args[0]);
        System.exit(2);
      }
    }
  }

  static Properties with(Properties base, Object... kv) {
    Properties p = new Properties();
    p.putAll(base);
    for (int i = 0; i < kv.length; i += 2) p.put(kv[i], kv[i + 1]);
    return p;
  }

  static void roundtrip(Properties base, String topic, int count, int rounds, long pauseMs) throws Exception {
    try (Admin admin = Admin.create(base)) {
      admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
    }
    List<Long> offsets = new ArrayList<>();
    double reauths = 0;
    Properties pp = with(base, ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
        ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(), ProducerConfig.ACKS_CONFIG, "all");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
      int n = 0;
      for (int round = 0; round < rounds; round++) {
        if (round > 0) Thread.sleep(pauseMs);
        for (int i = 0; i < count; i++, n++) {
          offsets.add(producer.send(new ProducerRecord<>(topic, "k" + n, "v" + n)).get(30, TimeUnit.SECONDS).offset());
        }
      }
      for (Map.Entry<MetricName, ? extends Metric> e : producer.metrics().entrySet()) {
        if (e.getKey().name().equals("successful-reauthentication-total")) {
          reauths = Math.max(reauths, ((Number) e.getValue().metricValue()).doubleValue());
        }
      }
    }
    Properties cp = with(base, ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName(),
        ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    StringBuilder consumed = new StringBuilder("[");
    int got = 0;
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
      TopicPartition tp = new TopicPartition(topic, 0);
      consumer.assign(List.of(tp));
      consumer.seekToBeginning(List.of(tp));
      long deadline = System.currentTimeMillis() + 30_000;
      while (got < count * rounds && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
          if (got > 0) consumed.append(',');
          consumed.append("{\"offset\":").append(r.offset()).append(",\"key\":\"").append(r.key()).append("\",\"value\":\"").append(r.value()).append("\"}");
          got++;
        }
      }
    }
    consumed.append(']');
    System.out.println("{\"offsets\":" + offsets + ",\"consumed\":" + consumed + ",\"reauthentications\":" + reauths + "}");
  }

  static void denied(Properties base) throws Exception {
    String error = null;
    String message = null;
    try (Admin admin = Admin.create(with(base, "request.timeout.ms", "10000", "default.api.timeout.ms", "15000"))) {
      admin.describeCluster().nodes().get(20, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      error = e.getCause().getClass().getSimpleName();
      message = e.getCause().getMessage();
    }
    System.out.println("{\"error\":" + q(error) + ",\"message\":" + q(message) + "}");
  }

  static String q(String s) {
    if (s == null) return "null";
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
  }
}
