// test/fault room: an unmodified idempotent Java producer (kafka-clients, acks=all,
// enable.idempotence=true, max.in.flight=5) for the kill -9 test, and a reader for the check.
// The program only reports what it saw; the tap test decides.
//
//   produce <bootstrap> <topic> <partitions> <maxRecords>
//       sends record i (value "i", partition i % partitions) as fast as the client allows until
//       stdin closes or maxRecords were sent, then flushes. Prints "a <i> <partition> <offset>"
//       per acknowledged record, "e <i> <error>" per failed one, and "done <sent> <acked> <failed>".
//   read <bootstrap> <topic> <partitions>
//       reads every partition from the start to its end offset; prints "r <partition> <offset> <value>".
package spool.fault;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class IdempotentProducer {
  private static final BufferedWriter OUT =
      new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16);

  private static synchronized void line(String s) {
    try {
      OUT.write(s);
      OUT.write('\n');
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  private static synchronized void flushOut() {
    try {
      OUT.flush();
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 4 || (args[0].equals("produce") && args.length < 5)) {
      System.err.println("usage: produce <bootstrap> <topic> <partitions> <maxRecords> | read <bootstrap> <topic> <partitions>");
      System.exit(2);
    }
    switch (args[0]) {
      case "produce" -> produce(args[1], args[2], Integer.parseInt(args[3]), Long.parseLong(args[4]));
      case "read" -> read(args[1], args[2], Integer.parseInt(args[3]));
      default -> {
        System.err.println("unknown mode " + args[0]);
        System.exit(2);
      }
    }
    flushOut();
  }

  static void produce(String bootstrap, String topic, int partitions, long maxRecords) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
    p.put(ProducerConfig.LINGER_MS_CONFIG, 1);
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, 16 * 1024);
    // Outlive every broker restart: a record fails only if it cannot be delivered for 2 minutes.
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000);
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 120_000);
    p.put(ProducerConfig.RECONNECT_BACKOFF_MS_CONFIG, 50);
    p.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
    p.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, 50);
    AtomicBoolean stop = new AtomicBoolean(false);
    Thread stdin = new Thread(() -> {
      try {
        // Any input, or EOF, stops the producer.
        System.in.read();
      } catch (IOException ignored) {
        // treat as EOF
      }
      stop.set(true);
    });
    stdin.setDaemon(true);
    stdin.start();
    AtomicLong acked = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    long sent = 0;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      long lastFlushMs = System.currentTimeMillis();
      for (long i = 0; i < maxRecords && !stop.get(); i++) {
        final long index = i;
        int partition = (int) (i % partitions);
        byte[] value = Long.toString(i).getBytes(StandardCharsets.UTF_8);
        producer.send(new ProducerRecord<>(topic, partition, null, value), (md, err) -> {
          if (err == null) {
            acked.incrementAndGet();
            line("a " + index + " " + md.partition() + " " + md.offset());
          } else {
            failed.incrementAndGet();
            line("e " + index + " " + err.getClass().getSimpleName() + ": " + String.valueOf(err.getMessage()).replace('\n', ' '));
          }
        });
        sent++;
        long now = System.currentTimeMillis();
        if (now - lastFlushMs > 200) {
          flushOut();
          lastFlushMs = now;
        }
      }
      producer.flush();
    }
    line("done " + sent + " " + acked.get() + " " + failed.get());
  }

  static void read(String bootstrap, String topic, int partitions) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 10000);
    p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
    List<TopicPartition> tps = new ArrayList<>();
    for (int i = 0; i < partitions; i++) tps.add(new TopicPartition(topic, i));
    long deadline = System.currentTimeMillis() + 60_000;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      Map<TopicPartition, Long> end = consumer.endOffsets(tps);
      while (System.currentTimeMillis() < deadline) {
        boolean done = true;
        for (TopicPartition tp : tps) if (consumer.position(tp) < end.get(tp)) done = false;
        if (done) break;
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          line("r " + r.partition() + " " + r.offset() + " " + new String(r.value(), StandardCharsets.UTF_8));
        }
      }
      for (TopicPartition tp : tps) line("end " + tp.partition() + " " + end.get(tp) + " " + consumer.position(tp));
    }
  }
}
