#!/usr/bin/env bash
# test/interop room: installs and builds everything the real-client interop tests use, and
# skips whatever is already in place (safe to re-run; CI runs it from .ci/run, developers by hand):
#   kcat (Debian)             -> /usr/bin/kcat
#   etcd (Debian etcd-server) -> /usr/bin/etcd, for the cluster and fault tests
#   chromium (Debian)         -> /usr/bin/chromium, headless, for test/admin/console.test.ts
#   confluent-kafka (PyPI)    -> librdkafka for test/interop/python/client.py and bench/vs-kafka-rdkafka.py
#   franz-go (Go proxy)       -> test/interop/go/bin/franz, test/interop/groups/franz/target/groupsfranz
#   kafka-clients (Maven)     -> test/interop/java/target/{classes,dependency}
#   kafka-clients 4.1 (Maven) -> test/interop/java/target-4.1/{classes,dependency}
#   kafka-streams (Maven)     -> test/interop/streams/target/{classes,dependency}
#   Java group member (javac) -> test/interop/groups/java/target/classes
#   Kafka broker+tools jars   -> .cache/kafka-jars/ (kafka-dump-log, kafka-consumer-groups)
# Needs: java 17+ with maven, go, python3 with pip (all on the project's machines, each installed
# from Debian when absent); root for apt.
# `npm install` runs it (scripts/postinstall.mjs) with SPOOL_SETUP_LENIENT=1: a step that cannot
# be done here (not root, no network) is skipped, and one closing line names what is missing and
# the command to run; the exit status is then 0. Run by hand, the same line ends with status 1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
KAFKA_VERSION=4.4.0
# The one older client kept in the interop matrix (step 4a).
KAFKA_OLD_VERSION=4.1.0
step() { printf '[setup-interop] %s\n' "$*"; }

# What could not be set up, for the closing line.
lacking=()
lack() { lacking+=("$1"); step "could not set up: $1"; }
finish() {
  if [ "${#lacking[@]}" -eq 0 ]; then step "done"; exit 0; fi
  local how="bash scripts/setup-interop.sh"
  [ "$(id -u)" -eq 0 ] || how="sudo bash scripts/setup-interop.sh"
  local IFS=';'
  step "MISSING for the interop tests:${lacking[*]/#/ } -- run: $how (needs root for apt and network access)"
  [ "${SPOOL_SETUP_LENIENT:-}" = 1 ] && exit 0
  exit 1
}

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
command -v etcd >/dev/null || missing+=(etcd-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
{ command -v java >/dev/null && command -v javac >/dev/null; } || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v python3 >/dev/null || missing+=(python3 python3-pip)
if [ "${#missing[@]}" -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  apt_install "${missing[@]}" || lack "Debian packages ${missing[*]}"
else
  step "kcat, etcd, chromium, java, javac, maven, python3: present"
fi

# Go: the franz-go modules set the floor (`go` line of the go.mod files; franz-go v1.22 itself
# declares go 1.26.0, so it cannot be lower). When no go is installed, take Debian's newest:
# bookworm's own is 1.19, bookworm-backports has 1.23 (enabled here just for this package).
go_mods=(test/interop/go/go.mod test/interop/groups/franz/go.mod)
go_need="$(sed -n 's/^go \([0-9.]*\).*/\1/p' "${go_mods[@]}" | sort -V | tail -1)"
version_ge() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" = "$2" ]; }
if ! command -v go >/dev/null; then
  os_id="$(. /etc/os-release 2>/dev/null && echo "${ID:-}")"
  codename="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")"
  if [ "$os_id" = debian ] && [ -n "$codename" ] \
    && ! grep -rqs "$codename-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    step "enabling $codename-backports for a newer golang-go"
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$codename" | as_root tee /etc/apt/sources.list.d/spool-backports.sources >/dev/null
    apt_updated=0
  fi
  step "apt-get install golang-go"
  if [ -n "$codename" ] && grep -rqs "$codename-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    apt_install -t "$codename-backports" golang-go || apt_install golang-go || true
  else
    apt_install golang-go || true
  fi
fi
go_ok=1
if ! command -v go >/dev/null; then
  lack "go >= $go_need (Debian golang-go)"
  go_ok=0
elif go_have="$(go env GOVERSION | sed 's/^go//')" && ! version_ge "$go_have" "$go_need"; then
  # Not fatal: the Python, Java and kcat programs still get set up; the franz-go tests then report
  # the missing binaries (and fail under CI=true).
  lack "go >= $go_need (go $go_have is installed; the franz-go programs are not built)"
  go_ok=0
else
  step "go ${go_have:-?}: present (modules need >= $go_need)"
fi

# Fuzzing the native validator (test/fuzz/cargo-fuzz.test.ts): nightly Rust and cargo-fuzz, both
# from rustup / crates.io. Skipped without rustup (the test then names what to install).
if command -v rustup >/dev/null; then
  if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    step "rust nightly: present"
  else
    step "rustup toolchain install nightly --profile minimal"
    rustup toolchain install nightly --profile minimal >/dev/null || lack "rust nightly (rustup toolchain install nightly)"
  fi
  if cargo fuzz --version >/dev/null 2>&1; then
    step "cargo-fuzz: present"
  else
    step "cargo install cargo-fuzz"
    cargo install --quiet --locked cargo-fuzz || lack "cargo-fuzz (cargo install cargo-fuzz)"
  fi
else
  lack "rustup (for nightly Rust and cargo-fuzz)"
fi

# 2. librdkafka through confluent-kafka-python (binary wheels bundle librdkafka), also the second
#    client of `npm run bench:vs-kafka` (which skips its rows, with a message, when it is missing).
python=${PYTHON:-python3}
if "$python" -c 'import confluent_kafka' 2>/dev/null; then
  step "confluent-kafka: present ($("$python" -c 'import confluent_kafka; v = confluent_kafka.version(); print(v[0] if isinstance(v, tuple) else v)'))"
else
  step "pip install confluent-kafka"
  # A Debian-managed python refuses plain pip installs (PEP 668); CI is a throwaway machine.
  "$python" -m pip install --quiet --disable-pip-version-check 'confluent-kafka>=2.6,<3' \
    || "$python" -m pip install --quiet --disable-pip-version-check --break-system-packages 'confluent-kafka>=2.6,<3' \
    || lack "confluent-kafka (pip)"
fi

# 3. franz-go programs. `go build` is incremental; it only downloads modules the first time.
if [ "$go_ok" -eq 1 ]; then
  # go build keeps an up-to-date binary as it is; touch it so the test's staleness check agrees.
  step "go build test/interop/go -> bin/franz"
  (cd test/interop/go && go build -buildvcs=false -o bin/franz . && touch bin/franz) || lack "franz-go program (go build)"
  step "go build test/interop/groups/franz -> target/groupsfranz"
  (cd test/interop/groups/franz && go build -buildvcs=false -o target/groupsfranz . && touch target/groupsfranz) \
    || lack "franz-go group member (go build)"
fi

# 4. Java client program: rebuild when a source or the pom is newer than the compiled class, or
#    when target/dependency does not hold kafka-clients $KAFKA_VERSION. copy-dependencies never
#    removes jars, so the folder is emptied first: after a version bump it would otherwise hold two
#    kafka-clients jars, and `-cp 'target/dependency/*'` would mix classes of both. Maven leaves an
#    up-to-date class as it is, so it is touched after a build for the next run's check.
java_class=test/interop/java/target/classes/spool/interop/JavaClient.class
java_deps=test/interop/java/target/dependency
if [ ! -f "$java_class" ] || [ -n "$(find test/interop/java/src test/interop/java/pom.xml -newer "$java_class" -type f 2>/dev/null)" ] \
  || [ ! -f "$java_deps/kafka-clients-$KAFKA_VERSION.jar" ]; then
  step "mvn package test/interop/java (kafka-clients $KAFKA_VERSION)"
  rm -rf "$java_deps"
  mvn -B -q -f test/interop/java/pom.xml package dependency:copy-dependencies -Dkafka.version="$KAFKA_VERSION" \
    && touch "$java_class" || lack "Java client program (mvn)"
else
  step "Java client: up to date"
fi

# 4a. The same Java client program against an older kafka-clients ($KAFKA_OLD_VERSION), kept in the
#     matrix by test/interop/java-4.1.test.ts (issue 16). The pom's build directory is fixed, so
#     Maven only copies the $KAFKA_OLD_VERSION jars and javac compiles the sources against them into
#     target-4.1/classes; target/ (step 4) is left alone. Rebuilt under step 4's conditions.
old_dir=test/interop/java/target-4.1
old_class=$old_dir/classes/spool/interop/JavaClient.class
if [ ! -f "$old_class" ] || [ -n "$(find test/interop/java/src test/interop/java/pom.xml -newer "$old_class" -type f 2>/dev/null)" ] \
  || [ ! -f "$old_dir/dependency/kafka-clients-$KAFKA_OLD_VERSION.jar" ]; then
  step "javac test/interop/java -> target-4.1 (kafka-clients $KAFKA_OLD_VERSION)"
  rm -rf "$old_dir"
  { mvn -B -q -f test/interop/java/pom.xml dependency:copy-dependencies -Dkafka.version="$KAFKA_OLD_VERSION" \
      -DoutputDirectory="$root/$old_dir/dependency" \
    && javac --release 17 -encoding UTF-8 -cp "$old_dir/dependency/*" -d "$old_dir/classes" \
      $(find test/interop/java/src/main/java -name '*.java'); } \
    || lack "Java client program against kafka-clients $KAFKA_OLD_VERSION (mvn, javac)"
else
  step "Java client (kafka-clients $KAFKA_OLD_VERSION): up to date"
fi

# 4b. Kafka Streams app (test/interop/streams-eos.test.ts): its own Maven module, so kafka-streams
#     and RocksDB stay off the client programs' classpath; rebuilt like step 4.
streams_class=test/interop/streams/target/classes/spool/interop/streams/StreamsEos.class
if [ ! -f "$streams_class" ] || [ -n "$(find test/interop/streams/src test/interop/streams/pom.xml -newer "$streams_class" -type f 2>/dev/null)" ] \
  || [ ! -d test/interop/streams/target/dependency ]; then
  step "mvn package test/interop/streams"
  rm -rf test/interop/streams/target/dependency
  mvn -B -q -f test/interop/streams/pom.xml package dependency:copy-dependencies \
    && touch "$streams_class" || lack "Kafka Streams app (mvn)"
else
  step "Kafka Streams app: up to date"
fi

# 5. Java group member (test/interop-groups-java.test.ts): compiled against the kafka-clients jars
#    of step 4, again when GroupMember.java or those jars are newer than the class.
member_src=test/interop/groups/java/GroupMember.java
member_class=test/interop/groups/java/target/classes/spool/interop/groups/GroupMember.class
if [ ! -f "$member_class" ] || [ -n "$(find "$member_src" test/interop/java/target/dependency -newer "$member_class" 2>/dev/null)" ]; then
  step "javac test/interop/groups/java/GroupMember.java"
  javac -cp 'test/interop/java/target/dependency/*' -d test/interop/groups/java/target/classes "$member_src" \
    || lack "Java group member (javac)"
else
  step "Java group member: up to date"
fi

# 6. Apache Kafka's broker and tools jars for kafka-dump-log / kafka-consumer-groups.
jars=.cache/kafka-jars
if [ -f "$jars/kafka_2.13-$KAFKA_VERSION.jar" ] && [ -f "$jars/kafka-tools-$KAFKA_VERSION.jar" ]; then
  step "Kafka $KAFKA_VERSION jars: present in $jars"
else
  step "fetching Kafka $KAFKA_VERSION jars into $jars"
  rm -rf "$jars"
  mvn -B -q -f test/interop/kafka-tools/pom.xml dependency:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$root/$jars" -DincludeScope=runtime \
    || lack "Apache Kafka $KAFKA_VERSION jars (mvn)"
fi
finish
