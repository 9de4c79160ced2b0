# test/interop room (transactions, issue 13): librdkafka, through confluent-kafka-python, driving
# a transactional producer, read_committed / read_uncommitted consumers and consume-transform-
# produce against a broker. Like client.py it only reports what the client saw, as JSON on stdout
# (always one summary object, last line, also on failure: "fatal" then names the error);
# test/interop/txn-python.test.ts decides pass or fail.
#
# Usage: txn_client.py <mode> <bootstrap> ...
#   produce-txns <topic> <partitions> <txnId> <txns> <perTxn>
#       creates the topic if absent; init_transactions; transaction t sends records
#       g = t*perTxn + j to partition g % partitions, key "k-g", value "v-g", header txn=t; flush;
#       even t commit, odd t abort (test/interop/txn/harness.ts). Reports every record's offset.
#   consume <topic> <partitions> <isolation> <expected>
#       assign from offset 0 with isolation.level=<isolation> until `expected` records (or 8 s
#       without one), then polls 1 s more; one JSON line per record {"p","o","k","v","h"} then the summary (watermarks and
#       positions).
#   ctp <inTopic> <outTopic> <partitions> <group> <txnId> <perPartition>
#       consume-transform-produce with send_offsets_to_transaction, as the Java program's ctp:
#       commit the first half, abort the second, retry it and commit; reports the group's
#       committed offsets after each step.
import json
import sys
import threading
import time
import traceback

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition, ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient, NewTopic

report = {"fatal": None}
lines = []
printed = threading.Lock()


def finish():
    if not printed.acquire(blocking=False):
        return
    out = "\n".join(lines)
    sys.stdout.write(out + ("\n" if out else "") + json.dumps(report) + "\n")
    sys.stdout.flush()


def watchdog(limit_s):
    time.sleep(limit_s)
    report["fatal"] = f"timeout: the program did not finish within {limit_s} s"
    finish()
    import os
    os._exit(3)


def create_topic(bootstrap, topic, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)], operation_timeout=20)
    try:
        fs[topic].result(timeout=30)
    except KafkaException as e:
        if e.args[0].name() != "TOPIC_ALREADY_EXISTS":
            raise


def txn_producer(bootstrap, txn_id):
    return Producer({
        "bootstrap.servers": bootstrap,
        "transactional.id": txn_id,
        "linger.ms": 5,
        "transaction.timeout.ms": 60000,
        "message.timeout.ms": 30000,
    })


def text(b):
    return None if b is None else b.decode("utf-8")


def produce_txns(bootstrap, topic, partitions, txn_id, txns, per_txn):
    create_topic(bootstrap, topic, partitions)
    offsets = []
    send_errors = []
    outcomes = []
    report.update({"transactions": outcomes, "offsets": offsets, "sendErrors": send_errors})
    producer = txn_producer(bootstrap, txn_id)

    def delivered(g):
        def cb(err, msg):
            if err is not None:
                if len(send_errors) < 5:
                    send_errors.append(f"record {g}: {err}")
                return
            offsets.append([g, msg.partition(), msg.offset()])
        return cb

    producer.init_transactions(30)
    report["initTransactions"] = "ok"
    for t in range(txns):
        commit = t % 2 == 0
        outcome = {"t": t, "outcome": "commit" if commit else "abort", "error": None}
        outcomes.append(outcome)
        producer.begin_transaction()
        for j in range(per_txn):
            g = t * per_txn + j
            producer.produce(topic, value=f"v-{g}".encode(), key=f"k-{g}".encode(), partition=g % partitions,
                             headers=[("txn", str(t).encode())], on_delivery=delivered(g))
            producer.poll(0)
        # Everything is written before the transaction ends (abort_transaction purges what is
        # still queued), so aborted records take offsets too.
        producer.flush(30)
        try:
            if commit:
                producer.commit_transaction(30)
            else:
                producer.abort_transaction(30)
        except KafkaException as e:
            outcome["error"] = str(e.args[0])
            raise


def consume(bootstrap, topic, partitions, isolation, expected):
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "spool-interop-unused",  # mandatory in librdkafka; assign() joins no group
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        "isolation.level": isolation,
    })
    tps = [TopicPartition(topic, p, 0) for p in range(partitions)]
    consumer.assign(tps)
    seen = 0
    errors = []
    deadline = time.time() + 30
    extra_until = None
    last_progress = time.time()
    while time.time() < deadline and time.time() - last_progress < 8:  # 8 s without a record: give up
        if seen >= expected and extra_until is None:
            extra_until = time.time() + 1.0  # anything beyond `expected` must show up now
        if extra_until is not None and time.time() >= extra_until:
            break
        for msg in consumer.consume(num_messages=5000, timeout=0.2):
            last_progress = time.time()
            if msg.error() is not None:
                if len(errors) < 5:
                    errors.append(str(msg.error()))
                continue
            lines.append(json.dumps({"p": msg.partition(), "o": msg.offset(), "k": text(msg.key()),
                                     "v": text(msg.value()),
                                     "h": [[k, text(v)] for k, v in (msg.headers() or [])]}))
            seen += 1
    watermarks = {}
    for p in range(partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
        watermarks[str(p)] = high
    positions = {str(tp.partition): tp.offset for tp in consumer.position(tps)}
    consumer.close()
    report.update({"records": seen, "errors": errors, "highWatermarks": watermarks, "positions": positions})


def group_offsets(admin, group, topic, partitions, stable=True):
    # require_stable waits out offsets of a transaction still being completed (its markers are
    # written after EndTxn returns); the look at an open transaction's offsets must not wait.
    # librdkafka hands a partition's UNSTABLE_OFFSET_COMMIT back instead of retrying: retry here.
    deadline = time.time() + 15
    while True:
        # Named partitions: asked for all of a group's offsets, Kafka leaves out partitions whose
        # only offset is a pending transactional one instead of answering UNSTABLE_OFFSET_COMMIT.
        wanted = [TopicPartition(topic, p) for p in range(partitions)]
        fs = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, wanted)], request_timeout=20,
                                               require_stable=stable)
        res = fs[group].result(timeout=30)
        mine = [tp for tp in res.topic_partitions if tp.topic == topic]
        unstable = [tp for tp in mine if tp.error is not None]
        if not unstable or time.time() > deadline:
            break
        time.sleep(0.1)
    out = {str(tp.partition): tp.offset for tp in mine if tp.error is None and tp.offset >= 0}
    for tp in unstable:
        out[str(tp.partition)] = str(tp.error)
    return out


def ctp(bootstrap, in_topic, out_topic, partitions, group, txn_id, per_partition):
    create_topic(bootstrap, in_topic, partitions)
    create_topic(bootstrap, out_topic, partitions)
    plain = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for p in range(partitions):
        for i in range(per_partition):
            plain.produce(in_topic, value=f"in-{p}-{i}".encode(), key=f"in-{p}-{i}".encode(), partition=p)
    plain.flush(30)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    })
    producer = txn_producer(bootstrap, txn_id)
    producer.init_transactions(30)
    consumer.subscribe([in_topic])
    records = {}
    seen = 0
    deadline = time.time() + 20
    while seen < partitions * per_partition and time.time() < deadline:
        for msg in consumer.consume(num_messages=1000, timeout=0.2):
            if msg.error() is None:
                records.setdefault(msg.partition(), []).append(msg)
                seen += 1
    report["inputRead"] = seen
    steps = {"before": group_offsets(admin, group, in_topic, partitions)}
    report["steps"] = steps
    half = per_partition // 2

    def transform(lo, hi):
        offsets = []
        for p, msgs in sorted(records.items()):
            for m in msgs[lo:hi]:
                producer.produce(out_topic, value=b"out-" + m.value(), key=m.key(), partition=p)
            offsets.append(TopicPartition(in_topic, p, msgs[hi - 1].offset() + 1))
        return offsets

    producer.begin_transaction()
    producer.send_offsets_to_transaction(transform(0, half), consumer.consumer_group_metadata(), 30)
    producer.flush(30)
    steps["txn1Open"] = group_offsets(admin, group, in_topic, partitions, stable=False)
    producer.commit_transaction(30)
    steps["txn1Committed"] = group_offsets(admin, group, in_topic, partitions)

    producer.begin_transaction()
    producer.send_offsets_to_transaction(transform(half, per_partition), consumer.consumer_group_metadata(), 30)
    producer.flush(30)
    producer.abort_transaction(30)
    steps["txn2Aborted"] = group_offsets(admin, group, in_topic, partitions)

    producer.begin_transaction()
    producer.send_offsets_to_transaction(transform(half, per_partition), consumer.consumer_group_metadata(), 30)
    producer.commit_transaction(30)
    steps["txn3Committed"] = group_offsets(admin, group, in_topic, partitions)
    committed = consumer.committed([TopicPartition(in_topic, p) for p in range(partitions)], timeout=20)
    steps["consumerCommitted"] = {str(tp.partition): tp.offset for tp in committed if tp.offset >= 0}
    consumer.close()


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: txn_client.py <mode> <bootstrap> ...\n")
        sys.exit(2)
    import os
    limit = int(os.environ.get("SPOOL_TXN_CLIENT_TIMEOUT_MS", "50000")) / 1000
    threading.Thread(target=watchdog, args=(limit,), daemon=True).start()
    mode, bootstrap, a = sys.argv[1], sys.argv[2], sys.argv[3:]
    report["mode"] = mode
    try:
        if mode == "produce-txns":
            produce_txns(bootstrap, a[0], int(a[1]), a[2], int(a[3]), int(a[4]))
        elif mode == "consume":
            consume(bootstrap, a[0], int(a[1]), a[2], int(a[3]))
        elif mode == "ctp":
            ctp(bootstrap, a[0], a[1], int(a[2]), a[3], a[4], int(a[5]))
        else:
            sys.stderr.write(f"unknown mode {mode}\n")
            sys.exit(2)
    except Exception as e:  # report, do not die without a summary
        report["fatal"] = f"{type(e).__name__}: {e.args[0] if e.args else e}"
        traceback.print_exc()
    finish()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
