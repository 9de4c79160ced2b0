#!/usr/bin/env python3
# bench/ room: the second client of bench/vs-kafka.ts, librdkafka through confluent-kafka-python
# (installed by scripts/setup-interop.sh). One measured phase per run:
#   produce  BOOTSTRAP TOPIC SECONDS ACKS COMPRESSION RECORD_SIZE
#            produce() 1 KiB values (null keys: librdkafka's sticky partitioner) for SECONDS, then
#            flush; librdkafka's defaults otherwise (linger.ms 5, batch.size 1 MB).
#   consume  BOOTSTRAP TOPIC PARTITIONS SECONDS
#            every partition assigned at offset 0 (no group), read to the high watermarks seen at
#            the start, at most SECONDS.
#   selftest SECONDS RECORD_SIZE
#            produce against librdkafka's in-process mock cluster (test.mock.num.brokers): an upper
#            bound of what this client can push, to check it is not the bottleneck.
# Prints "START" when the measured loop begins (the bench samples broker CPU there) and, at the end,
# "RESULT <json>" with bytes (value bytes), records, seconds and the client's own CPU seconds.
import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def values(size, n=64):
    # Distinct values from a 16-symbol alphabet (zstd ~2x), like the raw loadgen's.
    out = []
    for i in range(n):
        raw = os.urandom(size)
        out.append(bytes(0x61 + (b & 0x0F) for b in raw))
    return out


def produce(conf, topic, seconds, size):
    errors = []

    def on_error(err):
        errors.append(str(err))

    conf = dict(conf, error_cb=on_error)
    p = Producer(conf)
    vals = values(size)
    # Metadata and connection before the clock starts.
    p.list_topics(topic, timeout=30)
    records = 0
    failed = [0]

    def delivered(err, _msg):
        if err is not None:
            failed[0] += 1
            if len(errors) < 5:
                errors.append(str(err))

    emit("START")
    cpu0 = time.process_time()
    t0 = time.monotonic()
    end = t0 + seconds
    n = len(vals)
    # Bounded by the phase's end time.
    while True:
        for _ in range(1000):
            v = vals[records % n]
            try:
                p.produce(topic, v, on_delivery=delivered)
            except BufferError:
                p.poll(0.005)
                continue
            records += 1
        p.poll(0)
        if time.monotonic() >= end:
            break
    left = p.flush(60)
    seconds_taken = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    if left > 0 or failed[0] > 0:
        raise SystemExit(f"produce: {left} undelivered, {failed[0]} failed: {errors[:5]}")
    return {"bytes": records * size, "records": records, "seconds": seconds_taken, "clientCpuSeconds": cpu}


def consume(bootstrap, topic, partitions, seconds):
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "spool-bench-rdkafka",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    highs = []
    for partition in range(partitions):
        _low, high = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
        highs.append(high)
    total = sum(highs)
    c.assign([TopicPartition(topic, partition, 0) for partition in range(partitions)])
    emit("START")
    cpu0 = time.process_time()
    t0 = time.monotonic()
    end = t0 + seconds
    records = 0
    size = 0
    # Bounded by the record count and the phase's end time.
    while records < total and time.monotonic() < end:
        for m in c.consume(num_messages=10000, timeout=0.5):
            if m.error() is not None:
                raise KafkaException(m.error())
            records += 1
            size += len(m.value())
    seconds_taken = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    c.close()
    return {"bytes": size, "records": records, "seconds": seconds_taken, "clientCpuSeconds": cpu, "complete": records >= total, "expected": total}


def main(argv):
    mode = argv[1]
    if mode == "produce":
        bootstrap, topic, seconds, acks, compression, size = argv[2:8]
        conf = {"bootstrap.servers": bootstrap, "acks": acks, "compression.type": compression}
        result = produce(conf, topic, float(seconds), int(size))
    elif mode == "consume":
        bootstrap, topic, partitions, seconds = argv[2:6]
        result = consume(bootstrap, topic, int(partitions), float(seconds))
    elif mode == "selftest":
        seconds, size = argv[2:4]
        conf = {"test.mock.num.brokers": 1, "acks": "1", "compression.type": "none"}
        result = produce(conf, "selftest", float(seconds), int(size))
    else:
        raise SystemExit(f"unknown mode {mode}")
    emit("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main(sys.argv)
