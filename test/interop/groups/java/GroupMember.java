// test/interop room (groups): an Apache Kafka Java client (KafkaConsumer, classic group protocol,
// default assignors) group member for the group interop tests. Prints its holdings with the
// generation (groupMetadata()) after every assignment and every record as JSON lines; commits
// automatically; on SIGTERM commits, closes (LeaveGroup unless static) and exits.
//
// Usage: java spool.interop.groups.GroupMember <bootstrap> <topic> <group> <clientId> [group.instance.id]
package spool.interop.groups;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class GroupMember {
  private static final StringBuilder out = new StringBuilder();

  private static synchronized void flush() {
    System.out.print(out);
    System.out.flush();
    out.setLength(0);
  }

  private static String partitions(Collection<Integer> ps) {
    StringBuilder b = new StringBuilder("[");
    for (Integer p : ps) {
      if (b.length() > 1) b.append(',');
      b.append(p);
    }
    return b.append(']').toString();
  }

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0], topic = args[1], group = args[2], clientId = args[3];
    String instanceId = args.length > 4 ? args[4] : null;
    Properties props = new Properties();
    props.put("bootstrap.servers", bootstrap);
    props.put("group.id", group);
    props.put("client.id", clientId);
    props.put("key.deserializer", ByteArrayDeserializer.class.getName());
    props.put("value.deserializer", ByteArrayDeserializer.class.getName());
    props.put("auto.offset.reset", "earliest");
    props.put("enable.auto.commit", "true");
    props.put("auto.commit.interval.ms", "500");
    props.put("session.timeout.ms", instanceId != null ? "30000" : "6000");
    props.put("heartbeat.interval.ms", "1000");
    if (instanceId != null) props.put("group.instance.id", instanceId);
    KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props);
    TreeSet<Integer> owned = new TreeSet<>();
    AtomicBoolean running = new AtomicBoolean(true);
    Thread main = Thread.currentThread();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      running.set(false);
      consumer.wakeup();
      try {
        main.join(20_000);
      } catch (InterruptedException ignored) {
        Thread.currentThread().interrupt();
      }
    }));
    consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
      @Override
      public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
        TreeSet<Integer> ps = new TreeSet<>();
        for (TopicPartition tp : revoked) ps.add(tp.partition());
        owned.removeAll(ps);
        out.append("{\"ev\":\"revoked\",\"partitions\":").append(partitions(ps)).append("}\n");
        flush();
      }

      @Override
      public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
        for (TopicPartition tp : assigned) owned.add(tp.partition());
        out.append("{\"ev\":\"assigned\",\"memberId\":\"").append(consumer.groupMetadata().memberId())
            .append("\",\"generation\":").append(consumer.groupMetadata().generationId())
            .append(",\"partitions\":").append(partitions(owned)).append("}\n");
        flush();
      }
    });
    try {
      while (running.get()) {
        ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(500));
        for (ConsumerRecord<byte[], byte[]> r : records) {
          out.append("{\"ev\":\"rec\",\"p\":").append(r.partition()).append(",\"o\":").append(r.offset()).append("}\n");
        }
        flush();
      }
    } catch (WakeupException expected) {
      // SIGTERM: fall through to the final commit and close.
    } finally {
      try {
        consumer.commitSync(Duration.ofSeconds(10));
      } catch (RuntimeException e) {
        out.append("{\"ev\":\"error\",\"message\":\"final commit: ").append(e.getClass().getSimpleName()).append("\"}\n");
      }
      consumer.close(Duration.ofSeconds(10));
      flush();
    }
  }
}
