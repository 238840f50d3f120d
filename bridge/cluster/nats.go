package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/internal/recovered"
)

// SubjectPrefix starts every subject the cluster uses: a service s is
// served on SubjectPrefix + "svc." + s.
const SubjectPrefix = "cifbridge."

// queueGroup is the queue group of every answerer: one answer per call.
const queueGroup = "cifbridge"

// budgetHeader carries the caller's remaining budget in milliseconds, so
// the answerer's ctx ends when the caller stops waiting (clocks of two
// nodes may differ; a duration does not depend on them).
const budgetHeader = "Cifbridge-Budget-Ms"

// NATS is the Router over a NATS connection: Serve is a queue subscription
// on the service's subject, Call a request-reply with the caller's
// deadline; NATS's no-responders status becomes ErrNoResponders at once.
type NATS struct {
	nc  *nats.Conn
	log zerolog.Logger

	wg     sync.WaitGroup // running handlers
	ctx    context.Context
	cancel context.CancelFunc
}

// NewNATS returns a Router over nc (which the caller keeps and closes after
// Close).
func NewNATS(nc *nats.Conn, log zerolog.Logger) *NATS {
	ctx, cancel := context.WithCancel(context.Background())
	return &NATS{nc: nc, log: log, ctx: ctx, cancel: cancel}
}

func (r *NATS) Name() string { return "nats" }

// Subject is the NATS subject of service.
func Subject(service string) string { return SubjectPrefix + "svc." + service }

func (r *NATS) Serve(service string, h Handler) (func(), error) {
	return r.serve(service, queueGroup, h)
}

// ServeAll subscribes without a queue group: every answerer gets each
// gather.
func (r *NATS) ServeAll(service string, h Handler) (func(), error) { return r.serve(service, "", h) }

func (r *NATS) serve(service, queue string, h Handler) (func(), error) {
	if err := CheckService(service); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("nil handler")
	}
	sub, err := r.nc.QueueSubscribe(Subject(service), queue, func(m *nats.Msg) {
		if m.Reply == "" {
			return // a publish, not a request: nobody waits for an answer
		}
		budget := 10 * time.Second
		if ms, err := strconv.ParseInt(m.Header.Get(budgetHeader), 10, 64); err == nil && ms > 0 {
			budget = time.Duration(ms) * time.Millisecond
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer func() {
				// A handler's bug ends this call, not the node: the caller
				// gets no answer, as from a node that went away, and its
				// budget ends the call.
				if err := recovered.Error(recover()); err != nil {
					r.log.Error().Err(err).Str("service", service).Str("stack", recovered.Stack(err)).Msg("cluster: a handler panicked: this is a bug in cifbridge, please report it with this line; the call got no answer")
				}
			}()
			ctx, cancel := context.WithTimeout(r.ctx, budget)
			defer cancel()
			out := h(ctx, m.Data)
			if out == nil && queue == "" {
				return // a gather's answerer with nothing to say
			}
			if err := m.Respond(out); err != nil {
				r.log.Warn().Err(err).Str("service", service).Int("bytes", len(out)).Msg("cluster: answer not sent")
			}
		}()
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", Subject(service), err)
	}
	// Flush so the subscription is known to our server before Serve
	// returns (other servers learn of it asynchronously over routes).
	if err := r.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe to %s: %w", Subject(service), err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// Drain: calls already received are still answered.
			if err := sub.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				r.log.Warn().Err(err).Str("service", service).Msg("cluster: unsubscribe")
			}
		})
	}, nil
}

func (r *NATS) Call(ctx context.Context, service string, req []byte) ([]byte, error) {
	if err := CheckService(service); err != nil {
		return nil, err
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return nil, ErrNoDeadline
	}
	m := nats.NewMsg(Subject(service))
	m.Data = req
	m.Header.Set(budgetHeader, strconv.FormatInt(max(time.Until(dl).Milliseconds(), 1), 10))
	resp, err := r.nc.RequestMsgWithContext(ctx, m)
	switch {
	case err == nil:
		return resp.Data, nil
	case errors.Is(err, nats.ErrNoResponders):
		return nil, ErrNoResponders
	case ctx.Err() != nil:
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("nats request to %s: %w", Subject(service), err)
}

// Gather publishes req with a reply inbox of its own and collects the
// answers until ctx ends or want arrived.
func (r *NATS) Gather(ctx context.Context, service string, req []byte, want int) ([][]byte, error) {
	if err := CheckService(service); err != nil {
		return nil, err
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return nil, ErrNoDeadline
	}
	inbox := r.nc.NewInbox()
	sub, err := r.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("gather %s: %w", Subject(service), err)
	}
	defer sub.Unsubscribe()
	m := nats.NewMsg(Subject(service))
	m.Reply, m.Data = inbox, req
	m.Header.Set(budgetHeader, strconv.FormatInt(max(time.Until(dl).Milliseconds(), 1), 10))
	if err := r.nc.PublishMsg(m); err != nil {
		return nil, fmt.Errorf("gather %s: %w", Subject(service), err)
	}
	var out [][]byte
	for want <= 0 || len(out) < want {
		a, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			break // ctx ended: what arrived is the answer
		}
		if len(a.Data) == 0 && a.Header.Get("Status") == "503" {
			break // no responders
		}
		out = append(out, a.Data)
	}
	return out, nil
}

// Close stops the router's running handlers' contexts and waits for them.
// The caller closes the connection afterwards.
func (r *NATS) Close() {
	r.cancel()
	r.wg.Wait()
}
