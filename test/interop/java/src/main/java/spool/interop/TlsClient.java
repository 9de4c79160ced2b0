// test/interop room: Apache Kafka's Java client over SSL (test/security/tls-clients.test.ts). The
// client properties (security.protocol, ssl.*) come from a file, so the same program covers
// server-only TLS and mTLS with a PEM keystore. It only reports what the client saw, as JSON.
//
// Usage: TlsClient <mode> <bootstrap> <client.properties> <topic> <count>
//   roundtrip  AdminClient creates the topic (1 partition), KafkaProducer sends `count` records
//              (key k<i>, value v<i>), KafkaConsumer assign + seekToBeginning reads them back
//   connect    AdminClient describeCluster; reports the exception class when it fails
package spool.interop;

import java.io.FileInputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class TlsClient {
  private TlsClient() {}

  private static String quote(String s) {
    return s == null ? "null" : "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 5) {
      System.err.println("usage: TlsClient <mode> <bootstrap> <client.properties> <topic> <count>");
      System.exit(2);
    }
    String mode = args[0];
    Properties base = new Properties();
    try (FileInputStream in = new FileInputStream(args[2])) {
      base.load(in);
    }
    base.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[1]);
    String topic = args[3];
    int count = Integer.parseInt(args[4]);
    if (mode.equals("connect")) {
      connect(base);
    } else if (mode.equals("roundtrip")) {
      roundtrip(base, topic, count);
    } else {
      System.err.println("unknown mode " + mode);
      System.exit(2);
    }
  }

  private static void connect(Properties base) throws Exception {
    Properties p = new Properties();
    p.putAll(base);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "8000");
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "4000");
    try (Admin admin = Admin.create(p)) {
      try {
        int brokers = admin.describeCluster().nodes().get(10, TimeUnit.SECONDS).size();
        System.out.println("{\"mode\":\"connect\",\"brokers\":" + brokers + ",\"error\":null}");
      } catch (ExecutionException e) {
        System.out.println("{\"mode\":\"connect\",\"brokers\":0,\"error\":" + quote(e.getCause().getClass().getSimpleName()) + "}");
      }
    }
  }

  private static void roundtrip(Properties base, String topic, int count) throws Exception {
    List<Long> offsets = new ArrayList<>();
    String advertised;
    try (Admin admin = Admin.create(base)) {
      admin.createTopics(Collections.singleton(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
      Node node = admin.describeCluster().nodes().get(30, TimeUnit.SECONDS).iterator().next();
      advertised = node.host() + ":" + node.port();
    }
    Properties pp = new Properties();
    pp.putAll(base);
    pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    pp.put(ProducerConfig.ACKS_CONFIG, "all");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
      for (int i = 0; i < count; i++) {
        offsets.add(producer.send(new ProducerRecord<>(topic, 0, "k" + i, "v" + i)).get(30, TimeUnit.SECONDS).offset());
      }
    }
    Properties cp = new Properties();
    cp.putAll(base);
    cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    StringBuilder consumed = new StringBuilder();
    int read = 0;
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
      TopicPartition tp = new TopicPartition(topic, 0);
      consumer.assign(Collections.singleton(tp));
      consumer.seekToBeginning(Collections.singleton(tp));
      long deadline = System.currentTimeMillis() + 30_000;
      while (read < count && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
          if (read > 0) consumed.append(',');
          consumed.append("[").append(r.offset()).append(',').append(quote(r.key())).append(',').append(quote(r.value())).append(']');
          read++;
        }
      }
    }
    StringBuilder offs = new StringBuilder();
    for (int i = 0; i < offsets.size(); i++) offs.append(i == 0 ? "" : ",").append(offsets.get(i));
    System.out.println("{\"mode\":\"roundtrip\",\"advertised\":" + quote(advertised) + ",\"offsets\":[" + offs + "],\"consumed\":[" + consumed + "]}");
    System.out.flush();
  }
}
