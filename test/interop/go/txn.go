// test/interop room (transactions, issue 13): franz-go's transactional producer, read_committed /
// read_uncommitted consumers and GroupTransactSession against a broker. Modes named txn-* (see
// main.go); like the other modes they only report what the client saw, as JSON on stdout (always
// one summary object, last line, also on failure: "fatal" then names the error);
// test/interop/txn-go.test.ts decides pass or fail.
//
//	txn-produce <bootstrap> <topic> <partitions> <txnId> <txns> <perTxn>
//	    creates the topic if absent; transaction t sends records g = t*perTxn + j to partition
//	    g % partitions, key "k-g", value "v-g", header txn=t; Flush; even t commit, odd t abort
//	    (EndTransaction TryCommit / TryAbort). Reports every record's offset.
//	txn-consume <bootstrap> <topic> <partitions> <isolation> <expected>
//	    ConsumePartitions from the start with FetchIsolationLevel(ReadCommitted / ReadUncommitted)
//	    until `expected` records (or 8 s without one), then polls 1 s more; one JSON line per
//	    record {"p","o","k","v","h"}, then the summary with kadm ListEndOffsets and
//	    ListCommittedOffsets (the last stable offset).
//	txn-session <bootstrap> <inTopic> <outTopic> <partitions> <group> <txnId> <perPartition>
//	    GroupTransactSession: input A (perPartition per partition) is consumed and "out-" + value
//	    produced in one committed transaction; input B likewise but aborted (the session rewinds to
//	    the committed offsets), then again and committed; each transaction flushes before End.
//	    Reports the group's committed offsets (OffsetFetch, require_stable) after each step.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var (
	txnMu     sync.Mutex
	txnReport = map[string]any{"fatal": nil}
	txnLines  []string
	txnDone   bool
)

func txnSet(key string, value any) {
	txnMu.Lock()
	defer txnMu.Unlock()
	txnReport[key] = value
}

func txnFinish() {
	txnMu.Lock()
	defer txnMu.Unlock()
	if txnDone {
		return
	}
	txnDone = true
	w := os.Stdout
	for _, l := range txnLines {
		fmt.Fprintln(w, l)
	}
	b, err := json.Marshal(txnReport)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"fatal":%q}`, err.Error()))
	}
	fmt.Fprintln(w, string(b))
}

type txnFatal struct{ err error }

// must stops the mode with a fatal error that the summary reports.
func must(err error, what string) {
	if err != nil {
		panic(txnFatal{fmt.Errorf("%s: %w", what, err)})
	}
}

// txnMain runs a txn-* mode; args are os.Args[1:].
func txnMain(args []string) {
	limit := 50 * time.Second
	if v, err := strconv.Atoi(os.Getenv("SPOOL_TXN_CLIENT_TIMEOUT_MS")); err == nil && v > 0 {
		limit = time.Duration(v) * time.Millisecond
	}
	go func() {
		time.Sleep(limit)
		txnSet("fatal", fmt.Sprintf("timeout: the program did not finish within %v", limit))
		txnFinish()
		os.Exit(3)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if len(args) < 2 {
		fail("usage: franz txn-<mode> <bootstrap> ...")
	}
	mode, bootstrap, a := args[0], args[1], args[2:]
	txnSet("mode", mode)
	atoi := func(i int) int {
		if i >= len(a) {
			fail("%s: missing argument %d", mode, i+3)
		}
		n, err := strconv.Atoi(a[i])
		if err != nil {
			fail("%s: argument %q: %v", mode, a[i], err)
		}
		return n
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if f, ok := r.(txnFatal); ok {
					txnSet("fatal", f.err.Error())
				} else {
					txnSet("fatal", fmt.Sprint(r))
				}
			}
		}()
		switch mode {
		case "txn-produce":
			txnProduce(ctx, bootstrap, a[0], atoi(1), a[2], atoi(3), atoi(4))
		case "txn-consume":
			txnConsume(ctx, bootstrap, a[0], atoi(1), a[2], atoi(3))
		case "txn-session":
			txnSession(ctx, bootstrap, a[0], a[1], atoi(2), a[3], a[4], atoi(5))
		default:
			fail("unknown mode %s", mode)
		}
	}()
	txnFinish()
}

func ensureTopic(ctx context.Context, bootstrap, topic string, partitions int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	must(err, "client")
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, int32(partitions), 1, nil, topic)
	if err == nil {
		err = resp[topic].Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		must(err, "create topic "+topic)
	}
}

func txnProduce(ctx context.Context, bootstrap, topic string, partitions int, txnID string, txns, perTxn int) {
	ensureTopic(ctx, bootstrap, topic, partitions)
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap),
		kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(60*time.Second),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond),
	)
	must(err, "client")
	defer cl.Close()
	var mu sync.Mutex
	offsets := [][3]int64{}
	sendErrors := []string{}
	outcomes := []map[string]any{}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		txnSet("offsets", offsets)
		txnSet("sendErrors", sendErrors)
		txnSet("transactions", outcomes)
	}()
	for t := 0; t < txns; t++ {
		commit := t%2 == 0
		outcome := map[string]any{"t": t, "outcome": map[bool]string{true: "commit", false: "abort"}[commit], "error": nil}
		mu.Lock()
		outcomes = append(outcomes, outcome)
		mu.Unlock()
		must(cl.BeginTransaction(), "BeginTransaction")
		for j := 0; j < perTxn; j++ {
			g := t*perTxn + j
			rec := &kgo.Record{
				Partition: int32(g % partitions),
				Key:       []byte(fmt.Sprintf("k-%d", g)),
				Value:     []byte(fmt.Sprintf("v-%d", g)),
				Headers:   []kgo.RecordHeader{{Key: "txn", Value: []byte(strconv.Itoa(t))}},
			}
			cl.Produce(ctx, rec, func(r *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if len(sendErrors) < 5 {
						sendErrors = append(sendErrors, fmt.Sprintf("record %d: %v", g, err))
					}
					return
				}
				offsets = append(offsets, [3]int64{int64(g), int64(r.Partition), r.Offset})
			})
		}
		// Everything is written before the transaction ends, so aborted records take offsets too.
		must(cl.Flush(ctx), "Flush")
		try := kgo.TryAbort
		if commit {
			try = kgo.TryCommit
		}
		if err := cl.EndTransaction(ctx, try); err != nil {
			mu.Lock()
			outcome["error"] = err.Error()
			mu.Unlock()
			must(err, "EndTransaction")
		}
	}
	txnSet("initTransactions", "ok")
}

func isolation(name string) kgo.IsolationLevel {
	if name == "read_committed" {
		return kgo.ReadCommitted()
	}
	return kgo.ReadUncommitted()
}

type txnRecord struct {
	P int32        `json:"p"`
	O int64        `json:"o"`
	K *string      `json:"k"`
	V *string      `json:"v"`
	H [][2]*string `json:"h"`
}

func txnConsume(ctx context.Context, bootstrap, topic string, partitions int, isolationName string, expected int) {
	offsets := map[int32]kgo.Offset{}
	for p := 0; p < partitions; p++ {
		offsets[int32(p)] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(isolation(isolationName)),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	must(err, "client")
	defer cl.Close()
	seen := 0
	errs := []string{}
	deadline := time.Now().Add(30 * time.Second)
	lastProgress := time.Now()
	var extraUntil time.Time
	for time.Now().Before(deadline) && time.Since(lastProgress) < 8*time.Second { // 8 s without a record: give up
		if seen >= expected && extraUntil.IsZero() {
			extraUntil = time.Now().Add(time.Second) // anything beyond `expected` must show up now
		}
		if !extraUntil.IsZero() && time.Now().After(extraUntil) {
			break
		}
		pollCtx, pollCancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fetches := cl.PollFetches(pollCtx)
		pollCancel()
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && len(errs) < 5 {
				errs = append(errs, fmt.Sprintf("%s/%d: %v", t, p, err))
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			lastProgress = time.Now()
			h := make([][2]*string, 0, len(r.Headers))
			for _, hd := range r.Headers {
				k := hd.Key
				h = append(h, [2]*string{&k, strOrNil(hd.Value)})
			}
			b, _ := json.Marshal(txnRecord{P: r.Partition, O: r.Offset, K: strOrNil(r.Key), V: strOrNil(r.Value), H: h})
			txnMu.Lock()
			txnLines = append(txnLines, string(b))
			txnMu.Unlock()
			seen++
		})
	}
	txnSet("records", seen)
	txnSet("errors", errs)
	adm := kadm.NewClient(cl)
	listed := func(l kadm.ListedOffsets, err error) map[string]any {
		out := map[string]any{}
		if err != nil {
			out["error"] = err.Error()
			return out
		}
		l.Each(func(o kadm.ListedOffset) {
			if o.Err != nil {
				out[strconv.Itoa(int(o.Partition))] = o.Err.Error()
			} else {
				out[strconv.Itoa(int(o.Partition))] = o.Offset
			}
		})
		return out
	}
	txnSet("endOffsets", listed(adm.ListEndOffsets(ctx, topic)))
	txnSet("committedEndOffsets", listed(adm.ListCommittedOffsets(ctx, topic)))
}

// groupCommitted fetches the group's committed offsets for the topic's partitions with
// require_stable, retrying while a partition answers UNSTABLE_OFFSET_COMMIT (Kafka completes a
// transaction's offsets after EndTxn returned). The partitions are named: asked for all of a
// group's offsets (kadm.FetchOffsets*), Kafka leaves out partitions whose only offset is a pending
// transactional one instead of answering UNSTABLE_OFFSET_COMMIT.
func groupCommitted(ctx context.Context, cl *kgo.Client, group, topic string, partitions int) map[string]any {
	deadline := time.Now().Add(15 * time.Second)
	for {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group = group
		req.RequireStable = true
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic = topic
		for p := 0; p < partitions; p++ {
			rt.Partitions = append(rt.Partitions, int32(p))
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		out := map[string]any{}
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err != nil {
			if errors.Is(err, kerr.UnstableOffsetCommit) && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			out["error"] = err.Error()
			return out
		}
		unstable := false
		for _, t := range resp.Topics {
			if t.Topic != topic {
				continue
			}
			for _, p := range t.Partitions {
				key := strconv.Itoa(int(p.Partition))
				switch perr := kerr.ErrorForCode(p.ErrorCode); {
				case perr != nil:
					unstable = unstable || errors.Is(perr, kerr.UnstableOffsetCommit)
					out[key] = perr.Error()
				case p.Offset >= 0:
					out[key] = p.Offset
				}
			}
		}
		if !unstable || time.Now().After(deadline) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func txnSession(ctx context.Context, bootstrap, inTopic, outTopic string, partitions int, group, txnID string, perPartition int) {
	ensureTopic(ctx, bootstrap, inTopic, partitions)
	ensureTopic(ctx, bootstrap, outTopic, partitions)
	plain, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.DefaultProduceTopic(inTopic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	must(err, "client")
	defer plain.Close()
	writeInput := func(batch string) {
		for p := 0; p < partitions; p++ {
			for i := 0; i < perPartition; i++ {
				v := fmt.Sprintf("in-%s-%d-%d", batch, p, i)
				r := &kgo.Record{Partition: int32(p), Key: []byte(v), Value: []byte(v)}
				must(plain.ProduceSync(ctx, r).FirstErr(), "produce input")
			}
		}
	}
	s, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(bootstrap),
		kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(60*time.Second),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(inTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.DefaultProduceTopic(outTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	must(err, "session")
	defer s.Close()
	steps := map[string]any{}
	txnSet("steps", steps)
	var stepsMu sync.Mutex
	setStep := func(k string, v any) {
		stepsMu.Lock()
		defer stepsMu.Unlock()
		txnMu.Lock()
		defer txnMu.Unlock()
		steps[k] = v
	}

	// One transaction: consume `want` records, produce "out-" + value of each, End(commit).
	round := func(name string, want int, commit kgo.TransactionEndTry) {
		must(s.Begin(), name+": Begin")
		got := 0
		deadline := time.Now().Add(20 * time.Second)
		for got < want && time.Now().Before(deadline) {
			pollCtx, pollCancel := context.WithTimeout(ctx, 500*time.Millisecond)
			fetches := s.PollFetches(pollCtx)
			pollCancel()
			fetches.EachRecord(func(r *kgo.Record) {
				got++
				out := &kgo.Record{Partition: r.Partition, Key: r.Key, Value: append([]byte("out-"), r.Value...)}
				s.Produce(ctx, out, func(_ *kgo.Record, err error) {
					if err != nil {
						txnSet("produceError", fmt.Sprintf("%s: %v", name, err))
					}
				})
			})
		}
		setStep(name+"Consumed", got)
		// Everything is written before the transaction ends (End(TryAbort) would drop what is
		// still buffered), so the aborted attempt takes offsets in the output too.
		must(s.Client().Flush(ctx), name+": Flush")
		committed, err := s.End(ctx, commit)
		must(err, name+": End")
		setStep(name+"Committed", committed)
	}

	writeInput("a")
	round("a", partitions*perPartition, kgo.TryCommit)
	setStep("afterA", groupCommitted(ctx, plain, group, inTopic, partitions))
	writeInput("b")
	round("bAborted", partitions*perPartition, kgo.TryAbort)
	setStep("afterBAborted", groupCommitted(ctx, plain, group, inTopic, partitions))
	round("bRetried", partitions*perPartition, kgo.TryCommit)
	setStep("afterBRetried", groupCommitted(ctx, plain, group, inTopic, partitions))
}
