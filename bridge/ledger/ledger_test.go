package ledger_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"
	_ "modernc.org/sqlite"

	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/bridge/ledger/ledgertest"
	"github.com/cifbridge/cifbridge/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sample is an entry as the retry engine writes one.
var sample = ledgertest.Sample

func TestCreateGetUpdatePersist(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), ledger.FileName)
	l := ledgertest.Open(t, path)
	e := ledgertest.Create(t, ctx, l, "s1", protocol.LedgerSuspected)
	if !strings.HasPrefix(e.ID, "L") || e.Version != 1 || e.Created.IsZero() || !e.Created.Equal(e.Updated) {
		t.Fatalf("created %+v", e)
	}
	got, err := l.Get(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(e) {
		t.Fatalf("get\n%+v\nwant\n%+v", got, e)
	}
	up, err := l.Update(ctx, e.ID, func(x *protocol.LedgerEntry) error {
		x.Attempts[0].Outcome = protocol.LedgerOutcomeLateSuccess
		x.Attempts[0].RecordID = "r1"
		x.RecordIDs = append(x.RecordIDs, "r1")
		x.Status = protocol.LedgerConfirmed
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.Version != 2 || up.Status != protocol.LedgerConfirmed || len(up.RecordIDs) != 2 || !up.Created.Equal(e.Created) {
		t.Fatalf("updated %+v", up)
	}
	// A failing fn writes nothing.
	boom := errors.New("boom")
	if _, err := l.Update(ctx, e.ID, func(x *protocol.LedgerEntry) error { x.Status = protocol.LedgerCleared; return boom }); !errors.Is(err, boom) {
		t.Fatalf("update err = %v", err)
	}
	if _, err := l.Update(ctx, e.ID, func(x *protocol.LedgerEntry) error { x.Status = "bogus"; return nil }); !errors.Is(err, ledger.ErrInvalid) {
		t.Fatalf("bad status err = %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := l.Create(ctx, sample("s", protocol.LedgerSuspected)); !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("create after close: %v", err)
	}

	l2 := ledgertest.Open(t, path)
	got, err = l2.Get(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(up) {
		t.Fatalf("after reopen\n%+v\nwant\n%+v", got, up)
	}
	if _, err := l2.Get(ctx, "Lnope"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func TestSchemaVersionAndPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), ledger.FileName)
	l := ledgertest.Open(t, path)
	l.Close()
	l = ledgertest.Open(t, path) // re-opening applies nothing twice
	l.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != ledger.SchemaVersion {
		t.Fatalf("schema_version = %d, %v; want %d", v, err, ledger.SchemaVersion)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM schema_version`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("schema_version rows = %d, %v", n, err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	// A newer schema is refused with a clear error.
	if _, err := db.Exec(`UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Open(path); err == nil || !strings.Contains(err.Error(), "newer than this build") {
		t.Fatalf("open newer schema: %v", err)
	}
}

func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	ctx := context.Background()
	l := ledgertest.New(t)
	e := ledgertest.Create(t, ctx, l, "s", protocol.LedgerSuspected)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := l.Update(ctx, e.ID, func(x *protocol.LedgerEntry) error {
				x.RecordIDs = append(x.RecordIDs, fmt.Sprint("r", i))
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, _ := l.Get(ctx, e.ID)
	if len(got.RecordIDs) != 21 || got.Version != 21 {
		t.Fatalf("records %d version %d", len(got.RecordIDs), got.Version)
	}
}

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	l := ledgertest.New(t)
	e := ledgertest.Create(t, ctx, l, "s", protocol.LedgerSuspected)
	ledgertest.Create(t, ctx, l, "s", protocol.LedgerResolved)
	l.Update(ctx, e.ID, func(x *protocol.LedgerEntry) error { x.Status = protocol.LedgerConfirmed; return nil })
	l.Update(ctx, e.ID, func(x *protocol.LedgerEntry) error { x.Note = "same status again"; return nil })
	want := map[string]float64{
		"cifbridge_duplicates_confirmed_total":             1,
		"cifbridge_duplicates_suspected_total":             1,
		"cifbridge_ledger_entries{status=acknowledged}":    0,
		"cifbridge_ledger_entries{status=cleared}":         0,
		"cifbridge_ledger_entries{status=confirmed}":       1,
		"cifbridge_ledger_entries{status=expired-unknown}": 0,
		"cifbridge_ledger_entries{status=resolved}":        1,
		"cifbridge_ledger_entries{status=suspected}":       0,
		"cifbridge_ledger_pruned_total":                    0,
		"cifbridge_ledger_up":                              1,
	}
	if got := gather(t, l); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("metrics\n%v\nwant\n%v", got, want)
	}
	// A ledger that cannot be read: the scrape still works and says so.
	l.Close()
	if got := gather(t, l); fmt.Sprint(got) != fmt.Sprint(map[string]float64{"cifbridge_ledger_up": 0}) {
		t.Fatalf("metrics of a closed ledger: %v", got)
	}
}

// gather scrapes l's collectors on a fresh registry (as a restarted daemon
// would register them) and returns every series' value by name{labels}.
func gather(t *testing.T, l *ledger.Ledger) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(ledger.Collectors(l)...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, lp := range m.GetLabel() {
				name += "{" + lp.GetName() + "=" + lp.GetValue() + "}"
			}
			got[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return got
}

// The duplicate counters count entries, read from the table: closing and
// reopening the ledger file gives the same figures, an entry counts once
// however often it comes back to a status, and counting goes on from there.
func TestCountersSurviveRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), ledger.FileName)
	l := ledgertest.Open(t, path)
	set := func(l *ledger.Ledger, id string, st protocol.LedgerStatus) {
		t.Helper()
		if _, err := l.Update(ctx, id, func(x *protocol.LedgerEntry) error { x.Status = st; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	a := ledgertest.Create(t, ctx, l, "a", protocol.LedgerSuspected)
	set(l, a.ID, protocol.LedgerConfirmed)
	if _, err := ledger.Acknowledge(ctx, l, a.ID, "merged"); err != nil {
		t.Fatal(err)
	}
	set(l, a.ID, protocol.LedgerConfirmed) // a third record turned up: still one confirmed entry
	b := ledgertest.Create(t, ctx, l, "b", protocol.LedgerSuspected)
	set(l, b.ID, protocol.LedgerCleared)
	ledgertest.Create(t, ctx, l, "c", protocol.LedgerResolved)
	ledgertest.Create(t, ctx, l, "d", protocol.LedgerConfirmed) // written confirmed at once: suspected and confirmed
	before := gather(t, l)
	if before["cifbridge_duplicates_suspected_total"] != 3 || before["cifbridge_duplicates_confirmed_total"] != 2 {
		t.Fatalf("before restart %v", before)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = ledgertest.Open(t, path)
	if after := gather(t, l); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("after restart\n%v\nwant\n%v", after, before)
	}
	set(l, b.ID, protocol.LedgerSuspected) // b again: not a second suspected entry
	e := ledgertest.Create(t, ctx, l, "e", protocol.LedgerSuspected)
	set(l, e.ID, protocol.LedgerConfirmed)
	got := gather(t, l)
	if got["cifbridge_duplicates_suspected_total"] != 4 || got["cifbridge_duplicates_confirmed_total"] != 3 || got["cifbridge_ledger_entries{status=confirmed}"] != 3 {
		t.Fatalf("after more changes %v", got)
	}
	if tot, err := l.Totals(ctx); err != nil || tot != (ledger.Totals{Suspected: 4, Confirmed: 3}) {
		t.Fatalf("totals %+v %v", tot, err)
	}
}

// A ledger written by a build with schema 1 (no counter flags) is upgraded
// in place; its entries are flagged by what they show.
func TestMigrationFromSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), ledger.FileName)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// Schema 1 as released (migrate.go, migration 1).
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (1)`,
		`CREATE TABLE entries (id TEXT PRIMARY KEY, created INTEGER NOT NULL, updated INTEGER NOT NULL, session TEXT NOT NULL,
			method TEXT NOT NULL, entity TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',
			version INTEGER NOT NULL, body TEXT NOT NULL)`,
		`INSERT INTO entries VALUES ('L1', 1, 1, 's', 'm', 'contact', 'k1', 'suspected', '', 1, '{"attempts":[],"recordIds":["r1"]}')`,
		`INSERT INTO entries VALUES ('L2', 1, 1, 's', 'm', 'contact', 'k2', 'confirmed', '', 2, '{"attempts":[],"recordIds":["r1","r2"]}')`,
		`INSERT INTO entries VALUES ('L3', 1, 1, 's', 'm', 'contact', 'k3', 'acknowledged', '', 3, '{"attempts":[],"recordIds":["r1","r2"]}')`,
		`INSERT INTO entries VALUES ('L4', 1, 1, 's', 'm', 'contact', 'k4', 'cleared', '', 2, '{"attempts":[],"recordIds":["r1"]}')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	l := ledgertest.Open(t, path)
	tot, err := l.Totals(context.Background())
	if err != nil || tot != (ledger.Totals{Suspected: 3, Confirmed: 2}) {
		t.Fatalf("totals %+v %v", tot, err)
	}
	if e, err := l.Get(context.Background(), "L3"); err != nil || e.Status != protocol.LedgerAcknowledged || len(e.RecordIDs) != 2 {
		t.Fatalf("entry %+v %v", e, err)
	}
}

func TestREST(t *testing.T) {
	ctx := context.Background()
	l := ledgertest.New(t)
	e := ledgertest.Create(t, ctx, l, "s1", protocol.LedgerSuspected)
	ledgertest.Create(t, ctx, l, "s2", protocol.LedgerConfirmed)
	mux := http.NewServeMux()
	h := ledger.Handler(l, zerolog.Nop())
	mux.Handle(ledger.PathList, h)
	mux.Handle(ledger.PathOne, h)
	hs := httptest.NewServer(mux)
	defer hs.Close()

	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: content-type %q", method, path, ct)
		}
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp.StatusCode, m
	}
	errMsg := func(m map[string]any) string {
		e, _ := m["error"].(map[string]any)
		if e == nil || e["code"] == nil {
			return ""
		}
		s, _ := e["message"].(string)
		return s
	}

	code, m := do("GET", "/api/v1/ledger", "")
	if code != 200 || len(m["entries"].([]any)) != 2 {
		t.Fatalf("list: %d %v", code, m)
	}
	// The whole ledger's counters: s2 was written confirmed, so it counts as
	// suspected too.
	if tot, _ := m["totals"].(map[string]any); tot["suspected"] != 2.0 || tot["confirmed"] != 1.0 {
		t.Fatalf("list totals: %v", m["totals"])
	}
	code, m = do("GET", "/api/v1/ledger?status=suspected&session=s1&since=1h&limit=5", "")
	if code != 200 || len(m["entries"].([]any)) != 1 {
		t.Fatalf("filtered list: %d %v", code, m)
	}
	if tot, _ := m["totals"].(map[string]any); tot["suspected"] != 2.0 {
		t.Fatalf("filtered list totals (whole ledger): %v", m["totals"])
	}
	code, m = do("GET", "/api/v1/ledger?since="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "")
	if code != 200 || len(m["entries"].([]any)) != 0 {
		t.Fatalf("future since: %d %v", code, m)
	}
	code, m = do("GET", "/api/v1/ledger/"+e.ID, "")
	if code != 200 || m["id"] != e.ID || m["status"] != "suspected" || m["key"] != "k-s1" {
		t.Fatalf("get: %d %v", code, m)
	}
	if a := m["attempts"].([]any); len(a) != 2 || a[0].(map[string]any)["outcome"] != "timeout" {
		t.Fatalf("attempts: %v", m["attempts"])
	}
	code, m = do("POST", "/api/v1/ledger/"+e.ID+"/acknowledge", `{"note":"merged by hand"}`)
	if code != 200 || m["status"] != "acknowledged" || m["note"] != "merged by hand" {
		t.Fatalf("ack: %d %v", code, m)
	}
	code, m = do("POST", "/api/v1/ledger/"+e.ID+"/acknowledge", "")
	if code != 200 || m["note"] != "merged by hand" {
		t.Fatalf("ack without body: %d %v", code, m)
	}

	bad := []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"GET", "/api/v1/ledger?since=yesterday", "", 400, `since "yesterday" must be an RFC 3339 time`},
		{"GET", "/api/v1/ledger?since=-5m", "", 400, "since"},
		{"GET", "/api/v1/ledger?limit=0", "", 400, `limit "0" must be a whole number from 1 to 1000`},
		{"GET", "/api/v1/ledger?limit=abc", "", 400, "limit"},
		{"GET", "/api/v1/ledger?limit=5000", "", 400, "limit"},
		{"GET", "/api/v1/ledger?status=weird", "", 400, `status "weird" is not a ledger status`},
		{"GET", "/api/v1/ledger?colour=red", "", 400, `unknown query parameter "colour"`},
		{"GET", "/api/v1/ledger/Lmissing", "", 404, `no ledger entry "Lmissing"`},
		{"POST", "/api/v1/ledger/Lmissing/acknowledge", "", 404, `no ledger entry "Lmissing"`},
		{"POST", "/api/v1/ledger/" + e.ID + "/acknowledge", `{"nope":1}`, 400, `body must be empty or {"note":"…"}`},
		{"POST", "/api/v1/ledger/" + e.ID + "/acknowledge", `[`, 400, "body must be"},
		{"DELETE", "/api/v1/ledger/" + e.ID, "", 405, "is not served"},
	}
	for _, b := range bad {
		code, m := do(b.method, b.path, b.body)
		if code != b.code || !strings.Contains(errMsg(m), b.want) {
			t.Errorf("%s %s: %d %v; want %d containing %q", b.method, b.path, code, m, b.code, b.want)
		}
	}
}

// TestTotalsConfirmedNeverExceedsSuspected walks entries through every
// status in many orders (written at once in any status, then updated at
// random) and checks the counters' definitions after each write: confirmed
// ≤ suspected, confirmed = entries ever confirmed, suspected = entries ever
// suspected or confirmed.
func TestTotalsConfirmedNeverExceedsSuspected(t *testing.T) {
	ctx := context.Background()
	l := ledgertest.New(t)
	rng := rand.New(rand.NewPCG(18, 6))
	everS, everC := map[string]bool{}, map[string]bool{}
	var ids []string
	for step := range 200 {
		st := protocol.LedgerStatuses[rng.IntN(len(protocol.LedgerStatuses))]
		var id string
		if len(ids) == 0 || rng.IntN(4) == 0 {
			e := ledgertest.Create(t, ctx, l, fmt.Sprint("s", step), st)
			id = e.ID
			ids = append(ids, id)
		} else {
			id = ids[rng.IntN(len(ids))]
			if _, err := l.Update(ctx, id, func(x *protocol.LedgerEntry) error { x.Status = st; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		everS[id] = everS[id] || st == protocol.LedgerSuspected || st == protocol.LedgerConfirmed
		everC[id] = everC[id] || st == protocol.LedgerConfirmed
		tot, err := l.Totals(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := ledger.Totals{Suspected: count(everS), Confirmed: count(everC)}
		if tot != want || tot.Confirmed > tot.Suspected {
			t.Fatalf("step %d (%s → %s): totals %+v, want %+v (confirmed ≤ suspected)", step, id, st, tot, want)
		}
	}
}

func count(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}
