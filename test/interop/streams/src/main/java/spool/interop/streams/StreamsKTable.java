// test/interop room (compaction, issue 9 item 6): a Kafka Streams application whose KTable (a count
// per key) is backed by a compacted changelog, for test/interop/streams-ktable.test.ts, which
// wipes the local state and checks the table comes back from the (compacted) changelog. The
// program only reports (JSON lines on stdout, the client's log on stderr); the test decides.
//
//   app <bootstrap> <appId> <inTopic> <stateDir> <changelogSegmentBytes>
//       stream(in) -> groupByKey() -> count() in the store "counts" (RocksDB, changelog
//       <appId>-counts-changelog with cleanup.policy=compact, segment.bytes=<changelogSegmentBytes>,
//       min.cleanable.dirty.ratio=0.01), String keys and values, record cache off (one changelog
//       record per input record), at_least_once. Prints {"state": ...} on each state change,
//       {"restoreStart": {"partition", "from", "to"}} and {"restoreEnd": {"partition", "restored"}}
//       from a state restore listener, and, while RUNNING, every 500 ms the whole table read with
//       an interactive query: {"table": {key: count, ...}}. SIGTERM closes it cleanly and prints
//       {"closed": true|false}; a fatal Streams error prints {"fatal": ...} and exits 3.
package spool.interop.streams;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

public final class StreamsKTable {
  private StreamsKTable() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 6 || !args[0].equals("app")) {
      System.err.println("usage: StreamsKTable app <bootstrap> <appId> <inTopic> <stateDir> <changelogSegmentBytes>");
      System.exit(2);
    }
    String bootstrap = args[1];
    String appId = args[2];
    String inTopic = args[3];
    String stateDir = args[4];
    String segmentBytes = args[5];

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0L);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
    // A stopped instance stays a group member this long (Streams sends no LeaveGroup on close).
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6000);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1500);

    StreamsBuilder builder = new StreamsBuilder();
    builder.stream(inTopic, Consumed.with(Serdes.String(), Serdes.String()))
        .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
        .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("counts")
            .withKeySerde(Serdes.String())
            .withValueSerde(Serdes.Long())
            .withLoggingEnabled(Map.of(
                "segment.bytes", segmentBytes,
                "min.cleanable.dirty.ratio", "0.01",
                "file.delete.delay.ms", "0")));

    KafkaStreams streams = new KafkaStreams(builder.build(), p);
    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<String> fatal = new AtomicReference<>();
    streams.setStateListener((now, before) -> out("{\"state\":" + json(now.name()) + ",\"from\":" + json(before.name()) + "}"));
    streams.setGlobalStateRestoreListener(new StateRestoreListener() {
      @Override
      public void onRestoreStart(TopicPartition tp, String store, long from, long to) {
        out("{\"restoreStart\":{\"topic\":" + json(tp.topic()) + ",\"partition\":" + tp.partition() + ",\"from\":" + from + ",\"to\":" + to + "}}");
      }

      @Override
      public void onBatchRestored(TopicPartition tp, String store, long batchEndOffset, long numRestored) {}

      @Override
      public void onRestoreEnd(TopicPartition tp, String store, long totalRestored) {
        out("{\"restoreEnd\":{\"topic\":" + json(tp.topic()) + ",\"partition\":" + tp.partition() + ",\"restored\":" + totalRestored + "}}");
      }
    });
    streams.setUncaughtExceptionHandler(e -> {
      fatal.compareAndSet(null, describe(e));
      e.printStackTrace();
      done.countDown();
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      boolean closed = streams.close(Duration.ofSeconds(30));
      out("{\"closed\":" + closed + "}");
      done.countDown();
    }, "close"));

    streams.start();
    while (!done.await(500, TimeUnit.MILLISECONDS)) {
      KafkaStreams.State state = streams.state();
      if (state == KafkaStreams.State.ERROR || state == KafkaStreams.State.PENDING_ERROR) {
        fatal.compareAndSet(null, "Streams state " + state);
        break;
      }
      if (state != KafkaStreams.State.RUNNING) continue;
      try {
        ReadOnlyKeyValueStore<String, Long> store =
            streams.store(StoreQueryParameters.fromNameAndType("counts", QueryableStoreTypes.<String, Long>keyValueStore()));
        Map<String, Long> table = new TreeMap<>();
        try (KeyValueIterator<String, Long> it = store.all()) {
          while (it.hasNext()) {
            KeyValue<String, Long> kv = it.next();
            table.put(kv.key, kv.value);
          }
        }
        StringBuilder b = new StringBuilder("{\"table\":{");
        boolean first = true;
        for (Map.Entry<String, Long> e : table.entrySet()) {
          if (!first) b.append(',');
          first = false;
          b.append(json(e.getKey())).append(':').append(e.getValue());
        }
        out(b.append("}}").toString());
      } catch (Exception e) {
        // Not queryable yet (a rebalance or restore in progress): ask again on the next tick.
        out("{\"queryError\":" + json(describe(e)) + "}");
      }
    }
    if (fatal.get() != null) {
      out("{\"fatal\":" + json(fatal.get()) + "}");
      streams.close(Duration.ofSeconds(10));
      Runtime.getRuntime().halt(3);
    }
  }

  private static synchronized void out(String line) {
    System.out.println(line);
    System.out.flush();
  }

  private static String describe(Throwable e) {
    Throwable t = e;
    while ((t instanceof java.util.concurrent.ExecutionException || t instanceof java.util.concurrent.CompletionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t.getClass().getSimpleName() + ": " + t.getMessage();
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
