#!/usr/bin/env bash
# test/interop room: installs and builds everything the real-client interop tests use, and
# skips whatever is already in place (safe to re-run; CI runs it from .ci/run, developers by hand):
#   kcat (Debian)             -> /usr/bin/kcat
#   confluent-kafka (PyPI)    -> librdkafka for test/interop/python/client.py
#   franz-go (Go proxy)       -> test/interop/go/bin/franz
#   kafka-clients (Maven)     -> test/interop/java/target/{classes,dependency}
#   Kafka broker+tools jars   -> .cache/kafka-jars/ (kafka-dump-log, kafka-consumer-groups)
# Needs: java 17+ with maven, go, python3 with pip (all on the project's machines); root for apt.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
KAFKA_VERSION=4.1.0
step() { printf '[setup-interop] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else
    step "need root for: $*"; return 1; fi
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. Toolchains the programs are built with (present on the project's machines; installed if not).
missing=()
command -v kcat >/dev/null || missing+=(kcat)
command -v java >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v python3 >/dev/null || missing+=(python3 python3-pip)
if [ "${#missing[@]}" -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  apt_install "${missing[@]}"
else
  step "kcat, java, maven, python3: present"
fi
command -v go >/dev/null || { step "go is not installed (needs go >= the version in test/interop/go/go.mod)"; exit 1; }

# 2. librdkafka through confluent-kafka-python (binary wheels bundle librdkafka).
python=${PYTHON:-python3}
if "$python" -c 'import confluent_kafka' 2>/dev/null; then
  step "confluent-kafka: present ($("$python" -c 'import confluent_kafka; v = confluent_kafka.version(); print(v[0] if isinstance(v, tuple) else v)'))"
else
  step "pip install confluent-kafka"
  # A Debian-managed python refuses plain pip installs (PEP 668); CI is a throwaway machine.
  "$python" -m pip install --quiet --disable-pip-version-check 'confluent-kafka>=2.6,<3' \
    || "$python" -m pip install --quiet --disable-pip-version-check --break-system-packages 'confluent-kafka>=2.6,<3'
fi

# 3. franz-go program. `go build` is incremental; it only downloads modules the first time.
step "go build test/interop/go -> bin/franz"
(cd test/interop/go && go build -buildvcs=false -o bin/franz .)

# 4. Java client program: rebuild when a source or the pom is newer than the compiled class.
java_class=test/interop/java/target/classes/spool/interop/JavaClient.class
if [ ! -f "$java_class" ] || [ -n "$(find test/interop/java/src test/interop/java/pom.xml -newer "$java_class" -type f 2>/dev/null)" ] \
  || [ ! -d test/interop/java/target/dependency ]; then
  step "mvn package test/interop/java"
  mvn -B -q -f test/interop/java/pom.xml package dependency:copy-dependencies
else
  step "Java client: up to date"
fi

# 5. Apache Kafka's broker and tools jars for kafka-dump-log / kafka-consumer-groups.
jars=.cache/kafka-jars
if [ -f "$jars/kafka_2.13-$KAFKA_VERSION.jar" ] && [ -f "$jars/kafka-tools-$KAFKA_VERSION.jar" ]; then
  step "Kafka $KAFKA_VERSION jars: present in $jars"
else
  step "fetching Kafka $KAFKA_VERSION jars into $jars"
  rm -rf "$jars"
  mvn -B -q -f test/interop/kafka-tools/pom.xml dependency:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$root/$jars" -DincludeScope=runtime
fi
step "done"
