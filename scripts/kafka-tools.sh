#!/usr/bin/env bash
# test/interop room: runs Apache Kafka's own command-line tools from the Maven jars that
# scripts/setup-interop.sh fetched into .cache/kafka-jars (no Kafka distribution needed).
#   scripts/kafka-tools.sh dump-log --deep-iteration --print-data-log --files a.log,a.index
#   scripts/kafka-tools.sh consumer-groups --bootstrap-server 127.0.0.1:9092 --describe --group g
#   scripts/kafka-tools.sh topics --bootstrap-server 127.0.0.1:9092 --list
#   scripts/kafka-tools.sh class <main class> [args...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jars="${SPOOL_KAFKA_JARS:-$root/.cache/kafka-jars}"
[ -d "$jars" ] || { echo "no Kafka jars in $jars: run scripts/setup-interop.sh" >&2; exit 1; }
tool="${1:-}"
[ -n "$tool" ] || { sed -n '2,8p' "$0" >&2; exit 2; }
shift
case "$tool" in
  dump-log) main=org.apache.kafka.tools.DumpLogSegments ;;
  consumer-groups) main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  topics) main=org.apache.kafka.tools.TopicCommand ;;
  get-offsets) main=org.apache.kafka.tools.GetOffsetShell ;;
  console-producer) main=org.apache.kafka.tools.ConsoleProducer ;;
  console-consumer) main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  class) main="$1"; shift ;;
  *) echo "unknown tool $tool" >&2; exit 2 ;;
esac
exec java -Xmx512m -cp "$jars/*" "$main" "$@"
