// test/interop room: franz-go consuming with fetch sessions (KIP-227, kgo's default) while topics
// appear: kgo.ConsumeRegex over every topic matching a prefix, from the start, metadata refreshed
// often so a topic created mid-consumption joins the session. It only reports what it saw (JSON
// lines on stdout, then a "done" line); the tap test (test/broker/fetch-session-franz.test.ts)
// decides pass or fail.
//
// Usage: fetchsession <bootstrap> <topic-regex> <count>
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type seen struct {
	T string `json:"t"`
	P int32  `json:"p"`
	O int64  `json:"o"`
	V string `json:"v"`
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: fetchsession <bootstrap> <topic-regex> <count>")
		os.Exit(2)
	}
	count, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "count:", err)
		os.Exit(2)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(os.Args[1]),
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics(os.Args[2]),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.MetadataMaxAge(300*time.Millisecond),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
	defer cl.Close()
	w := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(w)
	got := 0
	deadline := time.Now().Add(60 * time.Second)
	for got < count && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fetches := cl.PollFetches(ctx)
		cancel()
		fetches.EachError(func(t string, p int32, err error) {
			if err != context.DeadlineExceeded {
				fmt.Fprintf(os.Stderr, "fetch error %s/%d: %v\n", t, p, err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if err := enc.Encode(seen{T: r.Topic, P: r.Partition, O: r.Offset, V: string(r.Value)}); err != nil {
				fmt.Fprintln(os.Stderr, "json:", err)
				os.Exit(1)
			}
			got++
		})
		// Progress for the test, which creates the next topic once the first records arrived.
		w.Flush()
	}
	fmt.Fprintf(w, "{\"done\":%d}\n", got)
	w.Flush()
}
