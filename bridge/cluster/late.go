package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/internal/backoff"
	"github.com/cifbridge/cifbridge/internal/logcap"
	"github.com/cifbridge/cifbridge/protocol"
)

// lateSubjectPrefix starts the subject of every late answer.
const lateSubjectPrefix = SubjectPrefix + "late."

// LateSubject is the subject of session's late answers in LateStream.
func LateSubject(session string) string { return lateSubjectPrefix + session }

// LateRecord is one answer that came after its CIF deadline, as the node
// that executed the attempt publishes it.
type LateRecord struct {
	V            int             `json:"v"`
	Node         string          `json:"node"` // the node that executed it
	Session      string          `json:"session"`
	Attempt      string          `json:"attempt"`
	Method       string          `json:"method"`
	WidgetMethod string          `json:"widgetMethod,omitempty"`
	RequestID    json.RawMessage `json:"requestId,omitempty"`
	TimeoutMs    int64           `json:"timeoutMs"`
	LateByMs     int64           `json:"lateByMs"`
	Result       json.RawMessage `json:"result,omitempty"`
	Error        *protocol.Error `json:"error,omitempty"`
}

// Late makes the record the correlation.Late a node's own table would have
// reported for it.
func (r LateRecord) Late() correlation.Late {
	l := correlation.Late{
		Info: correlation.Info{Attempt: correlation.Attempt{ID: r.Attempt, Kind: correlation.KindBackend, Session: r.Session,
			Method: r.Method, RequestID: r.RequestID, WidgetMethod: r.WidgetMethod, Timeout: time.Duration(r.TimeoutMs) * time.Millisecond},
			State: protocol.AttemptTimedOut},
		Result: r.Result, LateBy: time.Duration(r.LateByMs) * time.Millisecond,
	}
	if r.Error != nil {
		l.Err = r.Error
	}
	return l
}

// LateAnswers makes late answers survive the node that timed out: the node
// that executes an attempt publishes its late answer durably (Publish),
// and the node that owns the session now delivers it, exactly once per
// attempt: whoever delivers first creates the attempt's key in
// ClaimsBucket (Claim), and only the creator delivers.
type LateAnswers struct {
	Node    string
	Log     zerolog.Logger
	Metrics *Metrics // when set, counts the late-answer events
	// durable is set by Open once JetStream answers; until then nothing is
	// published or claimed (late answers travel over the router only).
	durable atomic.Pointer[Durable]
	// opened is closed by the first Open (made on first use, so a zero
	// LateAnswers works): awaitOpen waits on it.
	openedOnce sync.Once
	opened     chan struct{}

	// The bridge's side, set before Run: Local reports whether this node
	// holds a session (bridge.Server.Session), Pending whether this node's
	// correlation table still waits for an attempt (bridge.Server.
	// HasAttempt: the answer then comes to it over the router), Deliver
	// reports a late answer (bridge.Server.DeliverLate).
	Local   func(session string) bool
	Pending func(attempt string) bool
	Deliver func(correlation.Late) bool
}

// Open makes the late answers durable in d.
func (l *LateAnswers) Open(d *Durable) {
	if d != nil && l.durable.Swap(d) == nil {
		close(l.openedCh())
	}
}

func (l *LateAnswers) openedCh() chan struct{} {
	l.openedOnce.Do(func() { l.opened = make(chan struct{}) })
	return l.opened
}

// errNotDurable is Publish's and Claim's error before Open.
var errNotDurable = errors.New("the cluster's JetStream state is not open yet")

// Publish stores rec durably, deduplicated by its attempt id.
func (l *LateAnswers) Publish(ctx context.Context, rec LateRecord) error {
	if CheckService(rec.Session) != nil || rec.Attempt == "" {
		return fmt.Errorf("late answer without a valid session (%q) or attempt id", rec.Session)
	}
	rec.V = wireVersion
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	d := l.durable.Load()
	if d == nil {
		return errNotDurable
	}
	m := nats.NewMsg(LateSubject(rec.Session))
	m.Data = b
	_, err = d.JS.PublishMsg(ctx, m, jetstream.WithMsgID(rec.Attempt))
	return err
}

// Claim makes this node the one that delivers attempt's late answer:
// false when another node (or this one) claimed it already.
func (l *LateAnswers) Claim(ctx context.Context, attempt string) (bool, error) {
	d := l.durable.Load()
	if d == nil {
		return false, errNotDurable
	}
	_, err := d.Claims.Create(ctx, claimKey(attempt), []byte(l.Node))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyExists):
		return false, nil
	}
	return false, err
}

// claimWait bounds how long a stored late answer's claim is retried: the
// claims bucket has no leader for a few seconds after the node leading it
// died.
const claimWait = time.Minute

// claimPatiently is Claim, retried while JetStream does not answer (a
// leader election after a node's death) for up to claimWait.
func (l *LateAnswers) claimPatiently(ctx context.Context, attempt string) (won bool, err error) {
	err = retryJetStream(ctx, func(ctx context.Context) error {
		won, err = l.Claim(ctx, attempt)
		return err
	})
	return won, err
}

// publishPatiently is Publish, retried while JetStream does not answer
// (the stream elects a leader after its old one died) for up to
// claimWait: the answer to the caller waits meanwhile. A retry cannot
// store the answer twice (the attempt id deduplicates it).
func (l *LateAnswers) publishPatiently(ctx context.Context, rec LateRecord) error {
	l.awaitOpen(ctx, openWait)
	return retryJetStream(ctx, func(ctx context.Context) error { return l.Publish(ctx, rec) })
}

// openWait bounds how long a late answer waits for this node's durable
// state to open (Open) before it travels over the router only: a node
// that has just started, or whose JetStream peers were slow to form a
// quorum, opens it within seconds; a cluster without JetStream never does,
// and must not hold every late answer back for long.
const openWait = 30 * time.Second

// awaitOpen waits until Open was called, ctx ends or max passed.
func (l *LateAnswers) awaitOpen(ctx context.Context, max time.Duration) {
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-l.openedCh():
	case <-ctx.Done():
	case <-t.C:
	}
}

// retryJetStream runs op until it succeeds, fails for a reason other than
// JetStream not answering yet, or claimWait passed.
func retryJetStream(ctx context.Context, op func(context.Context) error) error {
	return backoff.Retry{Try: 5 * time.Second, Pause: 100 * time.Millisecond, MaxPause: 2 * time.Second,
		GiveUp: claimWait, Final: func(err error) bool { return errors.Is(err, errNotDurable) }}.Do(ctx, op)
}

// claimKey is attempt's key in ClaimsBucket: attempt ids are made of
// [A-Za-z0-9-], valid key characters; anything else is hex-encoded.
func claimKey(attempt string) string {
	if CheckService(attempt) == nil {
		return attempt
	}
	return fmt.Sprintf("x%x", attempt)
}

// ClaimForCaller is asked by the node that sent an attempt and got its
// answer after the deadline over the router, which the executing node also
// published: true when this node delivers it (it holds the session and
// won the claim), false when another node does (correlation.ErrElsewhere).
// A claim that cannot be made (JetStream unavailable) is delivered here:
// better twice than never.
func (l *LateAnswers) ClaimForCaller(attempt, session string) bool {
	if l.durable.Load() == nil {
		return true // not durable (yet): the router's answer is the only one
	}
	if l.Local != nil && !l.Local(session) {
		l.Metrics.lateEvent("elsewhere")
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	won, err := l.Claim(ctx, attempt)
	if err != nil {
		l.Log.Warn().Err(err).Str("attempt", attempt).Msg("late answer not claimed (JetStream unavailable): delivered here")
		return true
	}
	if !won {
		l.Metrics.lateEvent("elsewhere")
	}
	return won
}

// handle delivers one stored late answer when this node holds its session
// and nobody delivered it yet.
func (l *LateAnswers) handle(ctx context.Context, data []byte) {
	var rec LateRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.V != wireVersion {
		l.Log.Warn().Int("bytes", len(data)).Msg("a late answer in the stream cannot be decoded (another cifbridge version?): skipped")
		return
	}
	if !l.Local(rec.Session) || l.Pending(rec.Attempt) {
		// Not ours, or our table waits for it and the router brings it
		// (ClaimForCaller then).
		return
	}
	won, err := l.claimPatiently(ctx, rec.Attempt)
	if err != nil {
		l.Log.Error().Err(err).Str("session", rec.Session).Str("attempt", rec.Attempt).Msg("late answer not claimed (JetStream unavailable): not delivered")
		return
	}
	if !won {
		l.Log.Debug().Str("session", rec.Session).Str("attempt", rec.Attempt).Msg("late answer delivered by another node already")
		return
	}
	if !l.Deliver(rec.Late()) {
		// The session left between the check and the claim: give the
		// claim back, so the node it moved to (which scans the session's
		// answers when it takes it) can deliver it.
		l.Metrics.lateEvent("claimed_undelivered")
		err := l.durable.Load().Claims.Purge(ctx, claimKey(rec.Attempt))
		l.Log.Warn().Err(err).Str("session", rec.Session).Str("attempt", rec.Attempt).Msg("claimed a late answer for a session that left this node meanwhile: claim given back")
		return
	}
	l.Metrics.lateEvent("delivered")
	l.Log.Info().Str("session", rec.Session).Str("attempt", rec.Attempt).Str("executedOn", rec.Node).
		Msg("late answer from the durable stream delivered (the node that timed out is gone or gave the session up)")
}

// Run delivers the late answers published from now on to this node's
// sessions, until ctx ends. A reader that fails (the server holding it
// died, the stream is electing a leader) is made again from the message
// after the last one read, so nothing published meanwhile is skipped.
func (l *LateAnswers) Run(ctx context.Context) error {
	d := l.durable.Load()
	if d == nil {
		return errNotDurable
	}
	// Start after the last message stored now; after a failure, after the
	// last one read.
	var last atomic.Uint64
	if err := retryJetStream(ctx, func(ctx context.Context) error {
		info, err := d.Late.Info(ctx)
		if err == nil {
			last.Store(info.State.LastSeq)
		}
		return err
	}); err != nil {
		return fmt.Errorf("read the late-answer stream: %w", err)
	}
	// A failure is retried every second; its warning is logged at most
	// once a minute (with how many were held back), so a node left without
	// a JetStream quorum does not log 3 600 lines an hour.
	failLog := logcap.NewSampler(time.Minute)
	failed := false // the last reader failed: say when one runs again
	for {
		cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{lateSubjectPrefix + ">"},
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: last.Load() + 1}
		consumeErr := make(chan error, 1)
		var cc jetstream.ConsumeContext
		cons, err := d.JS.OrderedConsumer(ctx, LateStream, cfg)
		if err == nil {
			cc, err = cons.Consume(func(m jetstream.Msg) {
				if md, err := m.Metadata(); err == nil {
					last.Store(md.Sequence.Stream)
				}
				l.handle(ctx, m.Data())
			}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				select {
				case consumeErr <- err:
				default:
				}
			}))
		}
		if err == nil {
			if failed {
				l.Log.Info().Uint64("after", last.Load()).Msg("reading the late-answer stream again")
				failed = false
			}
			select {
			case <-ctx.Done():
			case err = <-consumeErr:
			case <-cc.Closed():
				err = errors.New("reader closed")
			}
			cc.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
		failed = true
		if ok, held := failLog.Allow("read"); ok {
			l.Log.Warn().Err(err).Uint64("after", last.Load()).Int("alsoSince", held).
				Msg("reading the late-answer stream failed: reading again from the next message, every second")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// Scan delivers the late answers stored for session (it just moved here:
// they were published while it was on another node, or on none).
func (l *LateAnswers) Scan(ctx context.Context, session string) error {
	d := l.durable.Load()
	if d == nil || CheckService(session) != nil {
		return nil
	}
	// How many are stored now; those published later reach Run.
	info, err := d.Late.Info(ctx, jetstream.WithSubjectFilter(LateSubject(session)))
	if err != nil {
		return fmt.Errorf("count session %s's late answers: %w", session, err)
	}
	n := info.State.Subjects[LateSubject(session)]
	if n == 0 {
		return nil
	}
	cons, err := d.JS.OrderedConsumer(ctx, LateStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{LateSubject(session)}, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return fmt.Errorf("read session %s's late answers: %w", session, err)
	}
	msgs := make(chan []byte, n)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m.Data():
		default: // more than counted: Run delivers those
		}
	})
	if err != nil {
		return fmt.Errorf("read session %s's late answers: %w", session, err)
	}
	defer cc.Stop()
	for ; n > 0; n-- {
		select {
		case b := <-msgs:
			l.handle(ctx, b)
		case <-ctx.Done():
			return fmt.Errorf("read session %s's late answers: %w", session, ctx.Err())
		}
	}
	return nil
}

// Publishing returns be with its late answers published durably: an
// attempt another node sent (its request carried the CIF deadline) that
// be answers after that deadline is stored in LateStream before the
// answer goes back, so that it outlives the node that timed out.
func (l *LateAnswers) Publishing(be backend.Backend) backend.Backend {
	return &publishing{Backend: be, l: l}
}

type publishing struct {
	backend.Backend
	l *LateAnswers
}

func (p *publishing) Execute(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
	res, err := p.Backend.Execute(ctx, a)
	if a.NoTimeout || a.Deadline.IsZero() || a.Session == "" || a.ID == "" || ctx.Err() != nil {
		return res, err
	}
	lateBy := time.Since(a.Deadline)
	if lateBy < 0 {
		return res, err
	}
	rec := LateRecord{Node: p.l.Node, Session: a.Session, Attempt: a.ID, Method: a.Method, WidgetMethod: a.WidgetMethod,
		RequestID: a.RequestID, TimeoutMs: a.Timeout.Milliseconds(), LateByMs: lateBy.Milliseconds(), Result: res}
	if err != nil {
		rec.Result, rec.Error = nil, protocol.AsError(err)
	}
	if perr := p.l.publishPatiently(context.WithoutCancel(ctx), rec); perr != nil {
		p.l.Metrics.lateEvent("store_failed")
		p.l.Log.Warn().Err(perr).Str("session", a.Session).Str("attempt", a.ID).
			Msg("late answer not stored durably: it reaches the caller over the router only, and is lost if that node died")
	} else {
		p.l.Metrics.lateEvent("stored")
		p.l.Log.Info().Str("session", a.Session).Str("attempt", a.ID).Dur("lateBy", lateBy).
			Msg("late answer stored durably: the node holding the session delivers it")
	}
	return res, err
}

// ForgetSession passes the session's end on to the wrapped backend.
func (p *publishing) ForgetSession(session string) {
	if f, ok := p.Backend.(Forgetter); ok {
		f.ForgetSession(session)
	}
}
