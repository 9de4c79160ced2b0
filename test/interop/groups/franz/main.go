// test/interop room (groups): a franz-go (kgo) group member for the group interop tests, with
// kgo's default cooperative-sticky balancer. Prints its holdings (with the generation, from
// GroupMetadata) after every assignment and every record as JSON lines; commits automatically;
// on SIGTERM closes the client (commit, LeaveGroup unless static) and exits.
//
// Usage: groupsfranz <bootstrap> <topic> <group> <clientId> [group.instance.id]
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var outMu sync.Mutex

func out(v any) {
	b, _ := json.Marshal(v)
	outMu.Lock()
	defer outMu.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: groupsfranz <bootstrap> <topic> <group> <clientId> [group.instance.id]")
		os.Exit(2)
	}
	bootstrap, topic, group, clientID := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	var owned sync.Map
	holdings := func() []int32 {
		var ps []int32
		owned.Range(func(k, _ any) bool { ps = append(ps, k.(int32)); return true })
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		if ps == nil {
			ps = []int32{}
		}
		return ps
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.ClientID(clientID),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(6 * time.Second),
		kgo.HeartbeatInterval(time.Second),
		kgo.AutoCommitInterval(500 * time.Millisecond),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
			for _, p := range assigned[topic] {
				owned.Store(p, true)
			}
			memberID, generation := cl.GroupMetadata()
			out(map[string]any{"ev": "assigned", "memberId": memberID, "generation": generation, "partitions": holdings()})
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
			// A custom revoke callback replaces kgo's commit-on-revoke: commit before giving partitions up.
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				out(map[string]any{"ev": "error", "message": "commit on revoke: " + err.Error()})
			}
			for _, p := range revoked[topic] {
				owned.Delete(p)
			}
			out(map[string]any{"ev": "revoked", "partitions": revoked[topic]})
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
			for _, p := range lost[topic] {
				owned.Delete(p)
			}
			out(map[string]any{"ev": "revoked", "partitions": lost[topic]})
		}),
	}
	if len(os.Args) > 5 {
		opts = append(opts, kgo.InstanceID(os.Args[5]), kgo.SessionTimeout(30*time.Second))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		out(map[string]any{"ev": "error", "message": err.Error()})
		os.Exit(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sigs; cancel() }()
	for ctx.Err() == nil {
		fetches := cl.PollFetches(ctx)
		var lines []string
		fetches.EachRecord(func(r *kgo.Record) {
			lines = append(lines, fmt.Sprintf(`{"ev":"rec","p":%d,"o":%d}`, r.Partition, r.Offset))
		})
		fetches.EachError(func(t string, p int32, err error) {
			if ctx.Err() == nil {
				out(map[string]any{"ev": "error", "message": fmt.Sprintf("%s[%d]: %v", t, p, err)})
			}
		})
		if len(lines) > 0 {
			outMu.Lock()
			os.Stdout.WriteString(strings.Join(lines, "\n") + "\n")
			outMu.Unlock()
		}
	}
	closeCtx, closeCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer closeCancel()
	if err := cl.CommitUncommittedOffsets(closeCtx); err != nil {
		out(map[string]any{"ev": "error", "message": "final commit: " + err.Error()})
	}
	cl.Close()
}
