package emulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/protocol"
)

// The emulator's create as a load run drives it, at the record bound.
// Run with
//
//	go test -run '^$' -bench 'CreateAtBound|CreateLoadMix' -benchmem ./bridge/emulator/
//
// cpu-ns/op is the process's CPU time (user + system, the collector's
// workers included) per create: on a shared machine it moves less than
// ns/op.

// BenchmarkCreateAtBound is a create into a store at its record bound, so
// that every create evicts the oldest record: at the default bound and at
// 100 000 records, where the oldest record and its table's entry are out
// of the cache as they are in a busy daemon.
func BenchmarkCreateAtBound(b *testing.B) {
	for _, max := range []int{emulator.DefaultMaxRecords, 100_000} {
		b.Run(fmt.Sprint(max), func(b *testing.B) {
			e := newEmulator(b, emulator.Config{MaxRecords: max})
			a := &correlation.Attempt{Session: "s1", Method: protocol.MethodCreateRecord, Params: json.RawMessage(
				`{"entityName":"contact","value":{"firstname":"Aino","lastname":"Virtanen","telephone1":"+358401234567","emailaddress1":"aino.virtanen@example.com","jobtitle":"Buyer","address1_city":"Helsinki"}}`)}
			ctx := context.Background()
			for range max {
				if _, err := e.Execute(ctx, a); err != nil {
					b.Fatal(err)
				}
			}
			before := cpuTime()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Execute(ctx, a); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-before)/float64(b.N), "cpu-ns/op")
			if st := e.Stats().Tables["contact"]; st.Records != max {
				b.Fatalf("%d records kept, want the bound %d", st.Records, max)
			}
		})
	}
}

// loadMix is the create mix of `cifbridge load --mix createrecord=1`
// (loadtest's payloads): seven contacts of eight columns in ten, three
// phonecalls bound to a contact created shortly before. The attempts carry
// their params decoded (Typed), as the bridge hands them over.
type loadMix struct {
	attempts []correlation.Attempt
	binds    [][]byte // per attempt: where a phonecall's contact GUID goes, nil for a contact
	recent   [64][36]byte
	nrecent  int
}

func newLoadMix(n int) *loadMix {
	firsts := []string{"Aino", "Mikko", "Sofia", "Juho", "Emma", "Oliver", "Lea", "Elias"}
	lasts := []string{"Virtanen", "Korhonen", "Nieminen", "Mäkinen", "Hämäläinen", "Laine"}
	m := &loadMix{}
	for i := range n {
		var body []byte
		ent := "contact"
		var bind []byte
		if j := i % 10; j == 3 || j == 6 || j == 9 { // after a contact
			ent = "phonecall"
			body = fmt.Appendf(nil, `{"subject":"Follow-up call","phonenumber":"+35840%07d","directioncode":%t,"actualdurationminutes":%d,"regardingobjectid_contact_phonecall@odata.bind":"/contacts(00000000-0000-0000-0000-000000000000)"}`,
				1000000+i*7919%9000000, i%2 == 0, 1+i%30)
			at := len(body) - len(`)"}`) - 36
			bind = body[at : at+36]
		} else {
			f, l := firsts[i%len(firsts)], lasts[(i/3)%len(lasts)]
			body = fmt.Appendf(nil, `{"firstname":%q,"lastname":%q,"fullname":"%s %s","telephone1":"+35840%07d","mobilephone":"+35840%07d","emailaddress1":"%s.%s@example.com","jobtitle":"Buyer","address1_city":"Helsinki"}`,
				f, l, f, l, 1000000+i*7919%9000000, 1000000+i*104729%9000000, f, l)
		}
		m.attempts = append(m.attempts, correlation.Attempt{Session: "s1", Method: protocol.MethodCreateRecord,
			Typed: &protocol.CreateRecordParams{EntityName: ent, Value: body}})
		m.binds = append(m.binds, bind)
	}
	return m
}

// create runs attempt i (b.Error when it fails): a phonecall is bound to one of the contacts
// created last, a contact's id joins them.
func (m *loadMix) create(b *testing.B, e *emulator.Emulator, i int) {
	i %= len(m.attempts)
	a := &m.attempts[i]
	if bind := m.binds[i]; bind != nil {
		copy(bind, m.recent[(i*31)%m.nrecent][:])
	}
	res, err := e.Execute(context.Background(), a)
	if err != nil {
		b.Error(err) // not Fatal: the sessions benchmark creates on goroutines of its own
		return
	}
	if m.binds[i] == nil {
		copy(m.recent[m.nrecent%len(m.recent)][:], res[len(res)-38:]) // …,"id":"<guid>"}
		if m.nrecent < len(m.recent) {
			m.nrecent++
		}
	}
}

// BenchmarkCreateLoadMix is the load run's creates into a store at the
// default bound. cold evicts the processor's caches before each create
// (outside the timer; 8 MiB of other memory read, as the load's network
// stack, connections and client do between two creates of a daemon), so
// ns/op counts the create's cache misses as the daemon's profile does.
func BenchmarkCreateLoadMix(b *testing.B) {
	for _, cold := range []bool{false, true} {
		b.Run(map[bool]string{false: "warm", true: "cold"}[cold], func(b *testing.B) {
			e, m, i := atBoundLoadMix(b)
			var junk []byte
			if cold {
				junk = make([]byte, 1<<20)
			}
			var sink byte
			b.ReportAllocs()
			for b.Loop() {
				if cold {
					b.StopTimer()
					for j := 0; j < len(junk); j += 64 {
						sink += junk[j]
						junk[j] = sink
					}
					b.StartTimer()
				}
				m.create(b, e, i)
				i++
			}
			st := e.Stats()
			if got := st.Tables["contact"].Records + st.Tables["phonecall"].Records; got != emulator.DefaultMaxRecords {
				b.Fatalf("%d records kept, want the bound %d", got, emulator.DefaultMaxRecords)
			}
		})
	}
}

// BenchmarkCreateLoadMixSessions is BenchmarkCreateLoadMix/warm run as
// the daemon runs it: by 64 goroutines in turn (a session's reader calls
// the emulator on its own stack), each create on another goroutine's
// stack than the last. ns/op includes a channel hand-over per create.
func BenchmarkCreateLoadMixSessions(b *testing.B) {
	e, m, i := atBoundLoadMix(b)
	const sessions = 64
	var turns [sessions]chan bool
	for s := range turns {
		turns[s] = make(chan bool, 1)
	}
	done := make(chan struct{})
	n := 0
	for s := range sessions {
		go func() {
			for more := range turns[s] {
				if more {
					m.create(b, e, i)
					i++
				}
				done <- struct{}{}
			}
		}()
	}
	defer func() {
		for s := range turns {
			close(turns[s])
		}
	}()
	before := cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		turns[n%sessions] <- true
		<-done
		n++
	}
	b.ReportMetric(float64(cpuTime()-before)/float64(b.N), "cpu-ns/op")
}

// atBoundLoadMix returns an emulator at its record bound (twice the bound
// created by the load's mix, so eviction runs on every create), the mix,
// and how many creates it made.
func atBoundLoadMix(b *testing.B) (*emulator.Emulator, *loadMix, int) {
	e := newEmulator(b, emulator.Config{})
	m := newLoadMix(1000)
	i := 0
	for range 2 * emulator.DefaultMaxRecords {
		m.create(b, e, i)
		i++
	}
	return e, m, i
}

// cpuTime is the process's user and system CPU time so far, in ns.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
