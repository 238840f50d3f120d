package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/backend"
	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/protocol"
)

// BackendService is the service of the cluster's backend (the node started
// with --backend emulator in cluster mode).
const BackendService = "backend"

// wireVersion is the envelope version; an answerer refuses other ones.
const wireVersion = 1

// request is one attempt on the wire between nodes.
type request struct {
	V            int             `json:"v"`
	Probe        bool            `json:"probe,omitempty"`  // "who serves this?": answered without executing
	Forget       bool            `json:"forget,omitempty"` // Session ended on the caller's node (Forgetter)
	From         string          `json:"from,omitempty"`   // caller's node id, for logs
	ID           string          `json:"id,omitempty"`
	Session      string          `json:"session,omitempty"`
	Method       string          `json:"method,omitempty"`
	Params       json.RawMessage `json:"params,omitempty"`
	RequestID    json.RawMessage `json:"requestId,omitempty"`
	WidgetMethod string          `json:"widgetMethod,omitempty"`
	TimeoutMs    int64           `json:"timeoutMs,omitempty"`
	// DeadlineInMs is the CIF deadline relative to the send (clocks of two
	// nodes may differ; a duration does not depend on them).
	DeadlineInMs int64 `json:"deadlineInMs,omitempty"`
	NoTimeout    bool  `json:"noTimeout,omitempty"`
}

// reply is the answer: Result or Error, and the node that answered.
type reply struct {
	Node    string          `json:"node,omitempty"`
	Backend string          `json:"backend,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *protocol.Error `json:"error,omitempty"`
}

// DefaultLateWindow bounds how long a cluster call waits for its answer
// past the CIF deadline when the bridge gives no deadline of its own
// (serve's --late-window, 10 minutes by default).
const DefaultLateWindow = 10 * time.Minute

// Backend is a backend.Backend that runs each attempt on whichever node
// serves Service, through a Router (serve's --backend cluster). The
// correlation table, the CIF timeout and the retry engine stay on the
// calling node: a late answer comes back over the router like any other.
type Backend struct {
	Router  Router
	Service string // BackendService unless set
	Node    string // this node's id, sent for the answerer's logs
	// LateWindow: see DefaultLateWindow.
	LateWindow time.Duration
	// Metrics, when set, counts the calls (kind "backend").
	Metrics *Metrics
	// Late, when set, makes an answer that came after the CIF deadline
	// claimed before this node reports it: the node that executed the
	// attempt published it durably too, and the node that holds the
	// session now may have delivered it already (or will).
	Late *LateAnswers
	kind string // the metrics' kind; "backend" when empty
}

var _ backend.Backend = (*Backend)(nil)
var _ backend.Checker = (*Backend)(nil)

func (b *Backend) Name() string { return "cluster" }

func (b *Backend) service() string {
	if b.Service == "" {
		return BackendService
	}
	return b.Service
}

// Execute sends a to the service and returns its answer: -32002 at once
// when no node serves it, -32002 with delivered true when the router lost
// the call after sending it.
func (b *Backend) Execute(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
	start := time.Now()
	res, err := b.execute(ctx, a)
	if b.kind != "-" {
		kind := b.kind
		if kind == "" {
			kind = "backend"
		}
		b.Metrics.observe(kind, start, err)
	}
	return res, err
}

func (b *Backend) execute(ctx context.Context, a *correlation.Attempt) (json.RawMessage, error) {
	params, err := a.RawParams()
	if err != nil {
		return nil, protocol.NewError(protocol.CodeInvalidParams, "params cannot be encoded: "+err.Error(), nil)
	}
	req := request{V: wireVersion, From: b.Node, ID: a.ID, Session: a.Session, Method: a.Method, Params: params,
		RequestID: a.RequestID, WidgetMethod: a.WidgetMethod, TimeoutMs: a.Timeout.Milliseconds(), NoTimeout: a.NoTimeout}
	if !a.Deadline.IsZero() {
		req.DeadlineInMs = time.Until(a.Deadline).Milliseconds()
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, protocol.NewError(protocol.CodeInternal, "cluster request cannot be encoded: "+err.Error(), nil)
	}
	if _, ok := ctx.Deadline(); !ok {
		// The table's exec ctx lives until the late-record window ends;
		// a router call needs a deadline, so give it that one.
		end := a.Deadline
		if end.IsZero() {
			end = time.Now().Add(a.Timeout)
		}
		lw := b.LateWindow
		if lw <= 0 {
			lw = DefaultLateWindow
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, end.Add(lw))
		defer cancel()
	}
	out, err := b.Router.Call(ctx, b.service(), body)
	switch {
	case errors.Is(err, ErrNoResponders):
		return nil, protocol.NewNoBackendError(false, "no node of the cluster serves the backend (start one with --backend emulator and the same cluster flags)")
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		return nil, protocol.NewNoBackendError(true, "the cluster lost the call after sending it (%v): it may have run", err)
	}
	var rep reply
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, protocol.NewError(protocol.CodeInternal, "the cluster backend's answer cannot be decoded: "+err.Error(), nil)
	}
	res, err := rep.Result, error(nil)
	if rep.Error != nil {
		res, err = nil, protocol.AsError(rep.Error)
	} else if len(res) == 0 {
		res = json.RawMessage("null")
	}
	if b.Late != nil && !a.NoTimeout && !a.Deadline.IsZero() && !time.Now().Before(a.Deadline) && !b.Late.ClaimForCaller(a.ID, a.Session) {
		// Another node delivers it; the answer still goes to this node's
		// capture of the session as the backend gave it.
		return nil, &correlation.ElsewhereAnswer{Result: res, Err: err}
	}
	return res, err
}

// Forgetter is implemented by backends that keep state per session (the
// emulator's panel state): ServeBackend calls ForgetSession when the
// session ended on the node that owned it (Backend.ForgetSession).
type Forgetter interface {
	ForgetSession(session string)
}

// ForgetSession tells the node serving the backend that session ended
// (the bridge's Config.OnSessionEnd), so per-session state there does not
// outlive it. It waits up to 2 s; a node that does not hear it keeps the
// state until it restarts.
func (b *Backend) ForgetSession(session string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	body, _ := json.Marshal(request{V: wireVersion, Forget: true, From: b.Node, Session: session})
	_, err := b.Router.Call(ctx, b.service(), body)
	return err
}

// Check is /readyz's: ready when some node serves the service.
func (b *Backend) Check(ctx context.Context) error {
	if _, err := Probe(ctx, b.Router, b.service()); err != nil {
		return &backend.CheckError{Reason: "no node of the cluster serves the backend", Err: err}
	}
	return nil
}

// Probe asks who serves service: the answering node's id, or
// ErrNoResponders when nobody does.
func Probe(ctx context.Context, r Router, service string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
	}
	body, _ := json.Marshal(request{V: wireVersion, Probe: true})
	out, err := r.Call(ctx, service, body)
	if err != nil {
		return "", err
	}
	var rep reply
	if err := json.Unmarshal(out, &rep); err != nil {
		return "", fmt.Errorf("probe answer cannot be decoded: %w", err)
	}
	return rep.Node, nil
}

// ErrAlreadyServed is ServeBackend's error when another node serves the
// service already.
var ErrAlreadyServed = errors.New("another node already serves this service")

// OwnerSettle is how long ServeBackend waits for a rival's subscription to
// reach it, and then for the rivals' answers, when it checks for nodes
// that began serving the same service in the same instant.
const OwnerSettle = 300 * time.Millisecond

// ServeBackend serves be to the whole cluster as service on this node. It
// refuses (ErrAlreadyServed, naming the node) when another node answers
// for service already: one emulator per cluster, so every node sees the
// same records. Two nodes that start in the same instant both pass that
// probe; each then asks (for OwnerSettle) who else serves service, and the
// one whose node id sorts last withdraws with ErrAlreadyServed.
func ServeBackend(ctx context.Context, r Router, service, node string, be backend.Backend, log zerolog.Logger) (stop func(), err error) {
	if err := CheckService(service); err != nil {
		return nil, err
	}
	other, err := Probe(ctx, r, service)
	switch {
	case err == nil:
		return nil, fmt.Errorf("%w: node %q serves %q", ErrAlreadyServed, other, service)
	case !errors.Is(err, ErrNoResponders):
		return nil, fmt.Errorf("probe for another node serving %q: %w", service, err)
	}
	owners := service + ".owners"
	stopOwner, err := r.ServeAll(owners, func(context.Context, []byte) []byte { return encodeReply(reply{Node: node}) })
	if err != nil {
		return nil, err
	}
	stopServe, err := r.Serve(service, func(ctx context.Context, in []byte) []byte {
		return answer(ctx, node, be, in, log)
	})
	if err != nil {
		stopOwner()
		return nil, err
	}
	stop = func() { stopServe(); stopOwner() }
	// Routes announce subscriptions asynchronously: let ours and a rival's
	// reach every server before asking.
	select {
	case <-time.After(OwnerSettle):
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
	gctx, cancel := context.WithTimeout(ctx, OwnerSettle)
	answers, err := r.Gather(gctx, owners, nil, 0)
	cancel()
	if err != nil {
		stop()
		return nil, fmt.Errorf("ask who else serves %q: %w", service, err)
	}
	for _, a := range answers {
		var rep reply
		if json.Unmarshal(a, &rep) == nil && rep.Node != "" && rep.Node != node && rep.Node < node {
			stop()
			return nil, fmt.Errorf("%w: node %q began serving %q at the same time, and wins", ErrAlreadyServed, rep.Node, service)
		}
	}
	return stop, nil
}

func answer(ctx context.Context, node string, be backend.Backend, in []byte, log zerolog.Logger) []byte {
	rep := reply{Node: node, Backend: be.Name()}
	var req request
	if err := json.Unmarshal(in, &req); err != nil {
		rep.Error = protocol.NewError(protocol.CodeInvalidRequest, "cluster request cannot be decoded: "+err.Error(), nil)
		return encodeReply(rep)
	}
	switch {
	case req.V != wireVersion:
		rep.Error = protocol.NewError(protocol.CodeInvalidRequest, fmt.Sprintf("cluster request version %d, this node speaks %d: run one cifbridge version across the cluster", req.V, wireVersion), nil)
		return encodeReply(rep)
	case req.Probe:
		return encodeReply(rep)
	case req.Forget:
		if f, ok := be.(Forgetter); ok && req.Session != "" {
			f.ForgetSession(req.Session)
		}
		return encodeReply(rep)
	case req.Method == "":
		rep.Error = protocol.NewError(protocol.CodeInvalidRequest, "cluster request without a method", nil)
		return encodeReply(rep)
	}
	now := time.Now()
	a := &correlation.Attempt{ID: req.ID, Kind: correlation.KindBackend, Session: req.Session, Method: req.Method,
		Params: req.Params, RequestID: req.RequestID, WidgetMethod: req.WidgetMethod,
		Timeout: time.Duration(req.TimeoutMs) * time.Millisecond, Started: now, NoTimeout: req.NoTimeout}
	if req.DeadlineInMs != 0 {
		a.Deadline = now.Add(time.Duration(req.DeadlineInMs) * time.Millisecond)
	}
	res, err := be.Execute(ctx, a)
	if err != nil {
		rep.Error = protocol.AsError(err)
		if ctx.Err() != nil && !errors.As(err, new(*protocol.Error)) {
			rep.Error = protocol.NewNoBackendError(true, "the caller's budget ran out on node %s with the call in the backend's hands", node)
		}
		log.Debug().Str("from", req.From).Str("session", req.Session).Str("attempt", req.ID).Err(err).Msg("cluster call answered with an error")
	} else {
		rep.Result = res
	}
	return encodeReply(rep)
}

func encodeReply(rep reply) []byte {
	b, err := json.Marshal(rep)
	if err != nil {
		b, _ = json.Marshal(reply{Node: rep.Node, Error: protocol.NewError(protocol.CodeInternal, "answer cannot be encoded: "+err.Error(), nil)})
	}
	return b
}
