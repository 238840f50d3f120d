package main

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requestsServed sums cifbridge_requests_total in a node's /metrics: the
// widget requests its own sessions sent.
func requestsServed(t *testing.T, base string) int64 {
	t.Helper()
	_, metrics := getBody(t, base+"/metrics")
	var n int64
	for line := range strings.SplitSeq(metrics, "\n") {
		if !strings.HasPrefix(line, "cifbridge_requests_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		n += int64(v)
	}
	return n
}

// cifbridge load over both nodes of a loopback cluster (A serves the
// emulator, B calls it): sessions go to both, B's URL first, so the load
// tool must find the emulator on A for the faults and the ground truth. A
// tenth of the creates outlast the CIF timeout; every timeout on either
// node is answered late (bridge.late) and each late answer is a late
// completion in A's emulator, and the records no one got an id for are the confirmed
// duplicates.
func TestLoadAcrossClusterNodes(t *testing.T) {
	an, bn := startPair(t, []string{"--node-id", "a", "--cif-timeout", "150ms"}, []string{"--node-id", "b", "--backend", "cluster", "--cif-timeout", "150ms"})
	aURL, bURL := an.url, bn.url
	waitReady(t, httpBase(bURL))
	faults := tempFile(t, "faults.json", `{"seed":7,"rules":[{"method":"createrecord","latencyMs":300,"ratio":0.1}]}`)

	rep := runLoadJSON(t, "--url", bURL+","+aURL, "--sessions", "4", "--rate", "200", "--duration", "1s",
		"--mix", "createrecord=4,retrieverecord=1", "--faults", faults, "--late-wait", "10s")
	g := rep.GroundTruth
	if g == nil {
		t.Fatalf("no ground truth in the report; notes %q", rep.Notes)
	}
	if len(rep.Config.URLs) != 2 || rep.Config.URLs[0] != bURL || !strings.Contains(strings.Join(rep.Notes, "\n"), "emulator served at "+httpBase(aURL)) {
		t.Errorf("report config %+v, notes %q", rep.Config, rep.Notes)
	}
	servedA, servedB := requestsServed(t, httpBase(aURL)), requestsServed(t, httpBase(bURL))
	if servedA == 0 || servedB == 0 || servedA+servedB < rep.Sent {
		t.Errorf("widget requests on A %d, on B %d, sent %d: the sessions were not spread over both", servedA, servedB, rep.Sent)
	}
	if rep.Timeouts == 0 {
		t.Fatal("no timeouts: the fault profile did not reach the emulator")
	}
	// The seed creates run under the faults too: their late answers count
	// in the ground truth (every phase), not in the measured timeouts.
	if rep.Late.Answers < rep.Timeouts || rep.Late.Answers != g.LateCompletions || !g.LateMatches || !g.ExtraMatchesConfirmed || rep.Duplicates.Confirmed != g.ExtraRecords {
		t.Errorf("timeouts %d, late %+v, ground truth %+v, confirmed %d", rep.Timeouts, rep.Late, g, rep.Duplicates.Confirmed)
	}
	if rep.Unanswered != 0 || rep.SendErrors != 0 {
		t.Errorf("unanswered %d, send errors %d", rep.Unanswered, rep.SendErrors)
	}

	// Faults need the emulator's node among the URLs: B alone is refused,
	// naming the node that serves it. Without faults the run goes on
	// without ground truth and says why.
	err := run(context.Background(), []string{"load", "--url", bURL, "--rate", "10", "--duration", "100ms", "--faults", faults}, &bytes.Buffer{}, &bytes.Buffer{})
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "cluster node a serves the emulator") {
		t.Fatalf("load --faults against B only: %v, want a usage error naming node a", err)
	}
	rep = runLoadJSON(t, "--url", bURL, "--rate", "20", "--duration", "200ms", "--mix", "retrieverecord=1", "--seed-records", "2")
	if rep.GroundTruth != nil || !strings.Contains(strings.Join(rep.Notes, "\n"), "cluster node a serves the emulator: add its widget URL") {
		t.Errorf("load against B only: ground truth %+v, notes %q", rep.GroundTruth, rep.Notes)
	}
}

func TestLoadURLListBadInput(t *testing.T) {
	url := loadBridge(t, 0)
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want string
	}{
		{name: "empty entry", args: []string{"--url", url + ",,", "--sessions", "3"}, want: "--url has an empty entry"},
		{name: "trailing comma", args: []string{"--url", url + ","}, want: "--url has an empty entry"},
		{name: "twice", args: []string{"--url", url, "--url", url, "--sessions", "2"}, want: "is listed twice"},
		{name: "fewer sessions than URLs", args: []string{"--url", url + ",ws://127.0.0.2:1/v1/widget", "--sessions", "1"}, want: "--sessions 1 is fewer than the 2 --url bridges"},
		{name: "second not a websocket", args: []string{"--url", url, "--url", "http://127.0.0.1:1/v1/widget", "--sessions", "2"}, want: "ws:// or wss://"},
		{name: "second remote", args: []string{"--url", url + ", ws://192.0.2.1:8787/v1/widget", "--sessions", "2"}, want: `host "192.0.2.1" is not loopback`},
		{name: "env list", env: url + ",ftp://x", args: []string{"--sessions", "2"}, want: `"ftp://x": the scheme must be ws://`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("CIFBRIDGE_LOAD_URL", tc.env)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := run(ctx, append([]string{"load", "--rate", "10", "--duration", "100ms"}, tc.args...), &bytes.Buffer{}, &bytes.Buffer{})
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a usage error (exit 2) saying %q", err, tc.want)
			}
		})
	}
}
