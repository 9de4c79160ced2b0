// test/interop room (groups): an Apache Kafka Java KafkaConsumer group member using the KIP-848
// consumer group protocol (group.protocol=consumer). Prints its holdings with its member epoch
// (groupMetadata().generationId()) after every assignment and every record as JSON lines; commits
// automatically; on SIGTERM commits, closes (leaves the group) and exits.
//
// Usage: java spool.interop.groups.ConsumerProtocolMember <bootstrap> <topic | re:regex> <group> <clientId>
//        [group.instance.id | -] [group.remote.assignor | -] [group.protocol]
// A topic given as re:<regex> subscribes with a broker-side regular expression (SubscriptionPattern).
// group.protocol (default consumer) may be classic: JoinGroup/SyncGroup with the range assignor,
// a 10 s session and 1 s heartbeats (the online migration test mixes both kinds of members).
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
import org.apache.kafka.clients.consumer.SubscriptionPattern;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class ConsumerProtocolMember {
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
    String instanceId = args.length > 4 && !args[4].equals("-") ? args[4] : null;
    String assignor = args.length > 5 && !args[5].equals("-") ? args[5] : null;
    String protocol = args.length > 6 ? args[6] : "consumer";
    Properties props = new Properties();
    props.put("bootstrap.servers", bootstrap);
    props.put("group.id", group);
    props.put("group.protocol", protocol);
    if (protocol.equals("classic")) {
      props.put("session.timeout.ms", "10000");
      props.put("heartbeat.interval.ms", "1000");
    }
    props.put("client.id", clientId);
    props.put("key.deserializer", ByteArrayDeserializer.class.getName());
    props.put("value.deserializer", ByteArrayDeserializer.class.getName());
    props.put("auto.offset.reset", "earliest");
    props.put("enable.auto.commit", "true");
    props.put("auto.commit.interval.ms", "500");
    if (instanceId != null) props.put("group.instance.id", instanceId);
    if (assignor != null) props.put("group.remote.assignor", assignor);
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
    ConsumerRebalanceListener listener = new ConsumerRebalanceListener() {
      @Override
      public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
        TreeSet<Integer> ps = new TreeSet<>();
        for (TopicPartition tp : revoked) ps.add(tp.partition());
        owned.removeAll(ps);
        out.append("{\"ev\":\"revoked\",\"partitions\":").append(partitions(ps)).append("}\n");
        flush();
      }

      @Override
      public void onPartitionsLost(Collection<TopicPartition> lost) {
        onPartitionsRevoked(lost);
      }

      @Override
      public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
        for (TopicPartition tp : assigned) owned.add(tp.partition());
        out.append("{\"ev\":\"assigned\",\"memberId\":\"").append(consumer.groupMetadata().memberId())
            .append("\",\"generation\":").append(consumer.groupMetadata().generationId())
            .append(",\"partitions\":").append(partitions(owned)).append("}\n");
        flush();
      }
    };
    if (topic.startsWith("re:")) consumer.subscribe(new SubscriptionPattern(topic.substring(3)), listener);
    else consumer.subscribe(List.of(topic), listener);
    try {
      while (running.get()) {
        ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(200));
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
