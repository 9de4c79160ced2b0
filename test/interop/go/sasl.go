// test/interop room (issue 14): franz-go over SASL (SCRAM-SHA-256/512, PLAIN, OAUTHBEARER).
// It only reports what the client saw, as JSON on stdout; test/security/sasl-go.test.ts decides.
//
// Usage: franz sasl-roundtrip <bootstrap> <mechanism> <user> <password-or-token> <topic> <count>
//
//	create the topic (kadm), produce `count` records synchronously, read them back from offset 0
//	(no group); reports the produced offsets and what was read, or the first error
//
// With SPOOL_CA_FILE set, the client speaks TLS (SASL_SSL) and trusts that CA (PEM).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

type saslRecord struct {
	Offset int64  `json:"offset"`
	Key    string `json:"key"`
	Value  string `json:"value"`
}

type saslResult struct {
	Offsets  []int64      `json:"offsets"`
	Consumed []saslRecord `json:"consumed"`
	Error    *string      `json:"error"`
}

func saslReport(r saslResult) {
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

func saslMechanism(name, user, secret string) sasl.Mechanism {
	switch name {
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: secret}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: secret}.AsSha512Mechanism()
	case "PLAIN":
		return plain.Auth{User: user, Pass: secret}.AsMechanism()
	case "OAUTHBEARER":
		return oauth.Auth{Token: secret}.AsMechanism()
	}
	fail("unknown mechanism %s", name)
	return nil
}

// saslOpts: the seed broker, the mechanism, and TLS when SPOOL_CA_FILE names a CA.
func saslOpts(bootstrap string, m sasl.Mechanism) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(bootstrap), kgo.SASL(m)}
	if ca := os.Getenv("SPOOL_CA_FILE"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			fail("read %s: %v", ca, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail("no certificate in %s", ca)
		}
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}))
	}
	return opts
}

func saslMain(args []string) {
	if len(args) < 7 || args[0] != "sasl-roundtrip" {
		fail("usage: franz sasl-roundtrip <bootstrap> <mechanism> <user> <password-or-token> <topic> <count>")
	}
	bootstrap, mechanism, user, secret, topic := args[1], args[2], args[3], args[4], args[5]
	count, _ := strconv.Atoi(args[6])
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	result := saslResult{Offsets: []int64{}, Consumed: []saslRecord{}}
	failWith := func(err error) {
		s := err.Error()
		result.Error = &s
		saslReport(result)
		os.Exit(0)
	}
	cl, err := kgo.NewClient(append(saslOpts(bootstrap, saslMechanism(mechanism, user, secret)), kgo.RequestRetries(2))...)
	if err != nil {
		failWith(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		failWith(err)
	}
	for i := 0; i < count; i++ {
		r := &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))}
		produced, err := cl.ProduceSync(ctx, r).First()
		if err != nil {
			failWith(err)
		}
		result.Offsets = append(result.Offsets, produced.Offset)
	}
	consumer, err := kgo.NewClient(append(saslOpts(bootstrap, saslMechanism(mechanism, user, secret)),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}))...)
	if err != nil {
		failWith(err)
	}
	defer consumer.Close()
	for len(result.Consumed) < count {
		fetches := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			failWith(ctx.Err())
		}
		fetches.EachRecord(func(r *kgo.Record) {
			result.Consumed = append(result.Consumed, saslRecord{Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)})
		})
	}
	saslReport(result)
}
