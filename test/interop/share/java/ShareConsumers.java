// test/interop room (share groups): Apache Kafka's KafkaShareConsumer (kafka-clients 4.4) against
// Spool. Runs N share consumers of one group in threads of one JVM, with explicit
// acknowledgement, and prints one line per delivered record:
//   DELIVER <consumer> <partition> <offset> <deliveryCount> <value> <ACCEPT|RELEASE|REJECT|HOLD>
// What a record gets is chosen by its value: "rel..." is released, "rej..." rejected, anything
// else accepted. Options:
//   --reset-earliest     set the group's start offset to 0 (AlterShareGroupOffsets) before joining
//   --hold               acquire, acknowledge nothing, and wait to be killed
//   --stop-at-count K    close (releasing what is held) on the first record delivered K times
//   --expect N           stop once N records were accepted, printing no DELIVER lines (a bench)
//   --max-poll N         max.poll.records
//   --sleep-ms M         pause after each record (to interleave the consumers)
//   --accept-all         accept every record whatever its value
//   --piggyback          no commitSync: acknowledgements ride on the next ShareFetch
// It stops after <idleMs> without a delivery (once something was delivered) or after <maxMs>.
// Not built against kafka-clients 4.1 (KafkaShareConsumer is only stable from 4.1 and its
// delivery count and Admin share APIs differ there): the test compiles it with javac.
package spool.interop.share;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

public final class ShareConsumers {
  private static synchronized void out(String line) {
    System.out.println(line);
    System.out.flush();
  }

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String group = args[1];
    String topic = args[2];
    int consumers = Integer.parseInt(args[3]);
    long idleMs = Long.parseLong(args[4]);
    long maxMs = Long.parseLong(args[5]);
    boolean resetEarliest = false;
    boolean hold = false;
    int stopAtCount = Integer.MAX_VALUE;
    long expect = Long.MAX_VALUE;
    int maxPoll = 500;
    long sleepMs = 0;
    boolean acceptAll = false;
    boolean piggyback = false;
    for (int i = 6; i < args.length; i++) {
      switch (args[i]) {
        case "--reset-earliest" -> resetEarliest = true;
        case "--hold" -> hold = true;
        case "--stop-at-count" -> stopAtCount = Integer.parseInt(args[++i]);
        case "--expect" -> expect = Long.parseLong(args[++i]);
        case "--max-poll" -> maxPoll = Integer.parseInt(args[++i]);
        case "--sleep-ms" -> sleepMs = Long.parseLong(args[++i]);
        case "--accept-all" -> acceptAll = true;
        case "--piggyback" -> piggyback = true;
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (resetEarliest) {
      Properties ap = new Properties();
      ap.put("bootstrap.servers", bootstrap);
      try (Admin admin = Admin.create(ap)) {
        admin.alterShareGroupOffsets(group, Map.of(new TopicPartition(topic, 0), 0L)).all().get();
      }
      out("RESET");
    }
    final boolean holdAll = hold;
    final int stopAt = stopAtCount;
    final long expected = expect;
    final int maxPollRecords = maxPoll;
    final long pause = sleepMs;
    final boolean acceptEverything = acceptAll;
    final boolean commit = !piggyback;
    final boolean quiet = expected != Long.MAX_VALUE;
    AtomicBoolean stop = new AtomicBoolean(false);
    AtomicLong lastDelivery = new AtomicLong(0);
    AtomicLong firstDelivery = new AtomicLong(0);
    AtomicInteger accepted = new AtomicInteger(0);
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < consumers; c++) {
      final int id = c;
      Thread th = new Thread(() -> {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("group.id", group);
        p.put("client.id", "share-" + id);
        p.put("share.acknowledgement.mode", "explicit");
        p.put("max.poll.records", Integer.toString(maxPollRecords));
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        KafkaShareConsumer<String, String> consumer = new KafkaShareConsumer<>(p);
        try {
          consumer.subscribe(List.of(topic));
          while (!stop.get()) {
            ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
            for (ConsumerRecord<String, String> r : records) {
              int count = r.deliveryCount().map(Short::intValue).orElse(-1);
              long now = System.currentTimeMillis();
              firstDelivery.compareAndSet(0, now);
              lastDelivery.set(now);
              String value = r.value();
              if (holdAll) {
                out("DELIVER " + id + " " + r.partition() + " " + r.offset() + " " + count + " " + value + " HOLD");
                continue;
              }
              if (count >= stopAt) {
                out("DELIVER " + id + " " + r.partition() + " " + r.offset() + " " + count + " " + value + " STOP");
                stop.set(true);
                break;
              }
              AcknowledgeType type = acceptEverything ? AcknowledgeType.ACCEPT : value.startsWith("rel") ? AcknowledgeType.RELEASE
                  : value.startsWith("rej") ? AcknowledgeType.REJECT : AcknowledgeType.ACCEPT;
              consumer.acknowledge(r, type);
              if (!quiet) out("DELIVER " + id + " " + r.partition() + " " + r.offset() + " " + count + " " + value + " " + type.name());
              if (type == AcknowledgeType.ACCEPT && accepted.incrementAndGet() >= expected) stop.set(true);
              if (pause > 0) Thread.sleep(pause);
            }
            if (holdAll && !records.isEmpty()) {
              out("HOLDING");
              Thread.sleep(Long.MAX_VALUE);
            }
            if (commit && !stop.get() && !records.isEmpty()) consumer.commitSync();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } catch (Exception e) {
          out("ERROR " + id + " " + e);
        } finally {
          consumer.close(Duration.ofSeconds(10));
        }
      }, "share-consumer-" + id);
      threads.add(th);
      th.start();
    }
    out("STARTED");
    long start = System.currentTimeMillis();
    while (!stop.get()) {
      Thread.sleep(50);
      long now = System.currentTimeMillis();
      long last = lastDelivery.get();
      if (now - start > maxMs || (last > 0 && now - last > idleMs)) stop.set(true);
    }
    for (Thread th : threads) th.join(30_000);
    long elapsed = lastDelivery.get() - firstDelivery.get();
    out("STATS " + accepted.get() + " " + elapsed);
    out("DONE");
    System.exit(0);
  }
}
