# test/interop room: librdkafka, through confluent-kafka-python, driven against a broker.
# It only reports what the client saw, as JSON on stdout; the tap test decides pass or fail.
#
# Usage: client.py <mode> <bootstrap> <topic> <count> <codec> <partitions> <baseTs> [timestamps]
#   create   AdminClient.create_topics(topic, partitions, rf 1)
#   produce  Producer: `count` records of the shared record spec (test/interop/common.ts)
#   consume  Consumer.assign with explicit offset 0 (no group) until `count` records; JSON lines
#   times    Consumer.offsets_for_times for each comma-separated timestamp, every partition
import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def spec(i, partitions, base_ts):
    headers = []
    if i % 3 >= 1:
        headers.append(("h-index", str(i).encode()))
    if i % 3 == 2:
        headers.append(("h-parity", b"even" if i % 2 == 0 else b"odd"))
    key = None if i % 5 == 0 else f"key-{i}".encode()
    value = None if i % 7 == 3 else f"value-{i}-{'abcdefghij' * (i % 13)}".encode()
    return i % partitions, key, value, headers, base_ts + i


def text(b):
    return None if b is None else b.decode("utf-8")


def create(bootstrap, topic, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                                  operation_timeout=30)
    error = None
    try:
        futures[topic].result(timeout=30)
    except KafkaException as e:
        error = str(e.args[0])
    print(json.dumps({"created": topic, "error": error}))


def produce(bootstrap, topic, count, codec, partitions, base_ts):
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "compression.codec": codec,
        "acks": "all",
        # The failover fault test asks for idempotence (retries after a leader change must not
        # duplicate); the interop test keeps librdkafka's default.
        "enable.idempotence": os.environ.get("SPOOL_IDEMPOTENT") == "1",
        "linger.ms": 5,
        "batch.size": 65536,
        # Keeps produce order == spec order even if a request is retried.
        "max.in.flight.requests.per.connection": 1,
    })
    stats = {}
    errors = []
    delivered = [0]

    def on_delivery(err, msg):
        if err is not None:
            if len(errors) < 5:
                errors.append(str(err))
            return
        delivered[0] += 1
        s = stats.setdefault(msg.partition(), {"first": msg.offset(), "last": msg.offset(), "count": 0})
        s["first"] = min(s["first"], msg.offset())
        s["last"] = max(s["last"], msg.offset())
        s["count"] += 1

    for i in range(count):
        p, key, value, headers, ts = spec(i, partitions, base_ts)
        try:
            while True:
                try:
                    producer.produce(topic, value=value, key=key, partition=p, headers=headers, timestamp=ts,
                                     on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.1)
        except KafkaException as e:
            # e.g. unknown partition: report it rather than die without a summary.
            errors.append(f"record {i}: {e.args[0]}")
            break
        producer.poll(0)
    remaining = producer.flush(60)
    print(json.dumps({"produced": delivered[0], "undelivered": remaining, "errors": errors,
                      "partitions": {str(k): v for k, v in sorted(stats.items())}}))


def consumer_for(bootstrap):
    # group.id is mandatory in librdkafka's config even when only assign() is used; nothing is
    # committed and no group is joined.
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "spool-interop-unused",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
    })


def consume(bootstrap, topic, count, partitions):
    consumer = consumer_for(bootstrap)
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    seen = 0
    deadline = time.time() + 60
    out = []
    errors = []
    while seen < count and time.time() < deadline:
        for msg in consumer.consume(num_messages=5000, timeout=0.5):
            if msg.error() is not None:
                if len(errors) < 5:
                    errors.append(str(msg.error()))
                continue
            out.append(json.dumps({
                "p": msg.partition(), "o": msg.offset(), "ts": msg.timestamp()[1],
                "k": text(msg.key()), "v": text(msg.value()),
                "h": [[k, text(v)] for k, v in (msg.headers() or [])],
            }))
            seen += 1
    consumer.close()
    sys.stdout.write("\n".join(out) + "\n")
    for e in errors:
        sys.stderr.write(f"consume error: {e}\n")


def times(bootstrap, topic, partitions, timestamps):
    consumer = consumer_for(bootstrap)
    results = []
    for t in [int(x) for x in timestamps.split(",") if x]:
        answer = consumer.offsets_for_times([TopicPartition(topic, p, t) for p in range(partitions)], timeout=30)
        for tp in sorted(answer, key=lambda x: x.partition):
            # librdkafka gives offset -1 (OFFSET_END) when no record has a timestamp >= t; it does
            # not expose the returned timestamp.
            results.append({"ts": t, "p": tp.partition, "offset": tp.offset,
                            "error": None if tp.error is None else str(tp.error)})
    consumer.close()
    print(json.dumps({"results": results}))


def main():
    if len(sys.argv) < 8:
        sys.stderr.write("usage: client.py <mode> <bootstrap> <topic> <count> <codec> <partitions> <baseTs> [timestamps]\n")
        sys.exit(2)
    mode, bootstrap, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    count, codec, partitions, base_ts = int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
    if mode == "create":
        create(bootstrap, topic, partitions)
    elif mode == "produce":
        produce(bootstrap, topic, count, codec, partitions, base_ts)
    elif mode == "consume":
        consume(bootstrap, topic, count, partitions)
    elif mode == "times":
        times(bootstrap, topic, partitions, sys.argv[8] if len(sys.argv) > 8 else "")
    else:
        sys.stderr.write(f"unknown mode {mode}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
