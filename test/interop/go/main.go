// test/interop room: franz-go (kgo, kadm, kmsg) driven against a broker.
// It only reports what the client saw, as JSON on stdout; the tap test decides pass or fail.
//
// Usage: franz <mode> <bootstrap> <topic> <count> <codec> <partitions> <baseTs> [timestamps]
//
//	create   kadm CreateTopics(topic, partitions, rf 1)
//	produce  kgo producer: `count` records of the shared record spec (test/interop/common.ts)
//	consume  kgo.ConsumePartitions from offset 0 (no group) until `count` records; JSON lines
//	times    a raw kmsg ListOffsetsRequest with each comma-separated timestamp, every partition
//	txn-*    transactions (issue 13), with their own arguments: see txn.go
//	sasl-*   SASL round trips (issue 14), with their own arguments: see sasl.go
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type specRecord struct {
	partition int32
	key       []byte
	value     []byte
	headers   []kgo.RecordHeader
	ts        time.Time
}

// spec is record i of the shared record spec; every client program implements the same.
func spec(i int, partitions int, baseTs int64) specRecord {
	r := specRecord{partition: int32(i % partitions), ts: time.UnixMilli(baseTs + int64(i))}
	if i%5 != 0 {
		r.key = []byte(fmt.Sprintf("key-%d", i))
	}
	if i%7 != 3 {
		r.value = []byte(fmt.Sprintf("value-%d-%s", i, strings.Repeat("abcdefghij", i%13)))
	}
	if i%3 >= 1 {
		r.headers = append(r.headers, kgo.RecordHeader{Key: "h-index", Value: []byte(strconv.Itoa(i))})
	}
	if i%3 == 2 {
		parity := "odd"
		if i%2 == 0 {
			parity = "even"
		}
		r.headers = append(r.headers, kgo.RecordHeader{Key: "h-parity", Value: []byte(parity)})
	}
	return r
}

func codec(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	default:
		return kgo.NoCompression()
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func printJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail("json: %v", err)
	}
	fmt.Println(string(b))
}

func strOrNil(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func main() {
	if len(os.Args) >= 2 && strings.HasPrefix(os.Args[1], "txn-") {
		txnMain(os.Args[1:]) // transaction modes: txn.go
		return
	}
	if len(os.Args) >= 2 && strings.HasPrefix(os.Args[1], "sasl-") {
		saslMain(os.Args[1:]) // SASL modes: sasl.go
		return
	}
	if len(os.Args) < 8 {
		fail("usage: franz <mode> <bootstrap> <topic> <count> <codec> <partitions> <baseTs> [timestamps]")
	}
	mode, bootstrap, topic := os.Args[1], os.Args[2], os.Args[3]
	count, _ := strconv.Atoi(os.Args[4])
	codecName := os.Args[5]
	partitions, _ := strconv.Atoi(os.Args[6])
	baseTs, _ := strconv.ParseInt(os.Args[7], 10, 64)
	timestamps := ""
	if len(os.Args) > 8 {
		timestamps = os.Args[8]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	switch mode {
	case "create":
		create(ctx, bootstrap, topic, partitions)
	case "produce":
		produce(ctx, bootstrap, topic, count, codecName, partitions, baseTs)
	case "consume":
		consume(ctx, bootstrap, topic, count, partitions)
	case "times":
		times(ctx, bootstrap, topic, partitions, timestamps)
	default:
		fail("unknown mode %s", mode)
	}
}

func create(ctx context.Context, bootstrap, topic string, partitions int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		fail("client: %v", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopics(ctx, int32(partitions), 1, nil, topic)
	var errText *string
	if err == nil {
		err = resp[topic].Err
	}
	if err != nil {
		s := err.Error()
		errText = &s
	}
	printJSON(map[string]any{"created": topic, "error": errText})
}

type partitionStats struct {
	First int64 `json:"first"`
	Last  int64 `json:"last"`
	Count int64 `json:"count"`
}

func produce(ctx context.Context, bootstrap, topic string, count int, codecName string, partitions int, baseTs int64) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(codec(codecName)),
		// Idempotent writes stay on (franz-go's default): the broker must serve it unchanged.
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	if err != nil {
		fail("client: %v", err)
	}
	defer cl.Close()
	var mu sync.Mutex
	stats := map[string]*partitionStats{}
	errs := []string{}
	produced := 0
	var wg sync.WaitGroup
	for i := 0; i < count; i++ {
		s := spec(i, partitions, baseTs)
		rec := &kgo.Record{Topic: topic, Partition: s.partition, Key: s.key, Value: s.value, Headers: s.headers, Timestamp: s.ts}
		wg.Add(1)
		cl.Produce(ctx, rec, func(r *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if len(errs) < 5 {
					errs = append(errs, err.Error())
				}
				return
			}
			produced++
			key := strconv.Itoa(int(r.Partition))
			st, ok := stats[key]
			if !ok {
				st = &partitionStats{First: r.Offset, Last: r.Offset}
				stats[key] = st
			}
			st.First = min(st.First, r.Offset)
			st.Last = max(st.Last, r.Offset)
			st.Count++
		})
	}
	wg.Wait()
	printJSON(map[string]any{"produced": produced, "errors": errs, "partitions": stats})
}

type consumed struct {
	P  int32        `json:"p"`
	O  int64        `json:"o"`
	Ts int64        `json:"ts"`
	K  *string      `json:"k"`
	V  *string      `json:"v"`
	H  [][2]*string `json:"h"`
}

func consume(ctx context.Context, bootstrap, topic string, count int, partitions int) {
	offsets := map[int32]kgo.Offset{}
	for p := 0; p < partitions; p++ {
		offsets[int32(p)] = kgo.NewOffset().At(0)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if err != nil {
		fail("client: %v", err)
	}
	defer cl.Close()
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	enc := json.NewEncoder(w)
	seen := 0
	deadline := time.Now().Add(60 * time.Second)
	for seen < count && time.Now().Before(deadline) {
		pollCtx, pollCancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pollCtx)
		pollCancel()
		fetches.EachError(func(t string, p int32, err error) {
			if err != context.DeadlineExceeded {
				fmt.Fprintf(os.Stderr, "fetch error %s/%d: %v\n", t, p, err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			h := make([][2]*string, 0, len(r.Headers))
			for _, hd := range r.Headers {
				k := hd.Key
				h = append(h, [2]*string{&k, strOrNil(hd.Value)})
			}
			if err := enc.Encode(consumed{P: r.Partition, O: r.Offset, Ts: r.Timestamp.UnixMilli(), K: strOrNil(r.Key), V: strOrNil(r.Value), H: h}); err != nil {
				fail("json: %v", err)
			}
			seen++
		})
	}
}

type timeResult struct {
	Ts          int64   `json:"ts"`
	P           int32   `json:"p"`
	Offset      int64   `json:"offset"`
	Timestamp   int64   `json:"timestamp"`
	LeaderEpoch int32   `json:"leaderEpoch"`
	Error       *string `json:"error"`
}

func times(ctx context.Context, bootstrap, topic string, partitions int, timestamps string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		fail("client: %v", err)
	}
	defer cl.Close()
	results := []timeResult{}
	for _, field := range strings.Split(timestamps, ",") {
		if field == "" {
			continue
		}
		ts, _ := strconv.ParseInt(field, 10, 64)
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for p := 0; p < partitions; p++ {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = int32(p)
			rp.Timestamp = ts
			rp.CurrentLeaderEpoch = -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		// kgo splits the request by partition leader and merges the answers.
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			fail("ListOffsets: %v", err)
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				var errText *string
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil {
					s := e.Error()
					errText = &s
				}
				results = append(results, timeResult{Ts: ts, P: p.Partition, Offset: p.Offset, Timestamp: p.Timestamp, LeaderEpoch: p.LeaderEpoch, Error: errText})
			}
		}
	}
	printJSON(map[string]any{"results": results})
}
