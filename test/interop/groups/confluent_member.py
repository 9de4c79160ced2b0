# test/interop room (groups): a librdkafka group member (confluent-kafka-python) for the group
# interop tests, with partition.assignment.strategy=cooperative-sticky. Prints its holdings after
# every (incremental) assignment and every record as JSON lines; commits automatically; on
# SIGTERM closes the consumer (LeaveGroup unless it is a static member) and exits.
#
# Usage: confluent_member.py <bootstrap> <topic> <group> <clientId> [group.instance.id]
import json
import signal
import sys

from confluent_kafka import Consumer, KafkaError

bootstrap, topic, group, client_id = sys.argv[1:5]
instance_id = sys.argv[5] if len(sys.argv) > 5 else None


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


conf = {
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "client.id": client_id,
    "partition.assignment.strategy": "cooperative-sticky",
    "session.timeout.ms": 30000 if instance_id else 6000,
    "heartbeat.interval.ms": 1000,
    "auto.offset.reset": "earliest",
    "enable.auto.commit": True,
    "auto.commit.interval.ms": 500,
}
if instance_id:
    conf["group.instance.id"] = instance_id
consumer = Consumer(conf)
owned = set()


def on_assign(c, partitions):
    owned.update(p.partition for p in partitions if p.topic == topic)
    # librdkafka does not expose the generation id: -1 makes the test match the broker's record.
    out({"ev": "assigned", "memberId": c.memberid(), "generation": -1, "partitions": sorted(owned)})


def on_revoke(c, partitions):
    for p in partitions:
        owned.discard(p.partition)
    out({"ev": "revoked", "partitions": sorted(p.partition for p in partitions)})


running = True


def stop(_signum, _frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
while running:
    msgs = consumer.consume(num_messages=500, timeout=0.5)
    lines = []
    for m in msgs:
        if m.error() is not None:
            if m.error().code() != KafkaError._PARTITION_EOF:
                out({"ev": "error", "message": str(m.error())})
            continue
        lines.append(json.dumps({"ev": "rec", "p": m.partition(), "o": m.offset()}))
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
consumer.close()
