package replay_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/bridge/retry"
	"github.com/cifbridge/cifbridge/internal/pipenet"
	"github.com/cifbridge/cifbridge/protocol"
	"github.com/cifbridge/cifbridge/replay"
)

// embedded is an in-process bridge for the replay tests: bridge.New with
// the emulator (widget mode) or host peers (full mode), and the retry engine
// with a ledger when asked, served on in-memory pipes so that a test runs it
// inside a testing/synctest bubble, where CIF timeouts and late answers
// happen at exact fake times. cifbridge replay --embedded runs serve's own
// daemon instead (cmd/cifbridge/replay_embedded.go); the tests here need
// its parts (Server, Emulator, Ledger, OnFrame) at hand.
type embedded struct {
	URL        string       // ws://127.0.0.1:8787/v1/widget (pipenet's fixed address)
	HTTPClient *http.Client // dials the bridge (WebSockets and admin API)
	Server     *bridge.Server
	Emulator   *emulator.Emulator // nil in full mode (the replayer is the host)
	Ledger     *ledger.Ledger     // nil unless EmbeddedOptions.Ledger
	hs         *http.Server
	ln         *pipenet.Listener
	tmpDir     string // removed by Close
}

// embeddedOptions configure startEmbedded. A nil value means defaults.
type embeddedOptions struct {
	// Ledger wires the retry engine (enreach.xrm.*) and a duplicate ledger
	// into the bridge the way serve does, with the ledger's REST API at
	// /api/v1/ledger. Set it when the capture needs them (NeedsLedger).
	Ledger bool
	// LedgerDir holds the ledger's database; empty means a fresh temporary
	// directory that Close removes.
	LedgerDir string
	// Configure, when set, may change the bridge config before New (e.g. set
	// OnFrame to capture the replay).
	Configure func(*bridge.Config)
}

// startEmbedded starts a bridge with the capture header's profile and CIF
// timeout: in widget mode on a zero-latency emulator, in full mode with host
// peers as the backend. Call it inside the bubble that uses the bridge, and
// Close it there.
func startEmbedded(h protocol.CaptureHeader, mode string, opts *embeddedOptions) (*embedded, error) {
	if opts == nil {
		opts = &embeddedOptions{}
	}
	cfg := bridge.Config{
		Profile:      h.Profile,
		Timeout:      time.Duration(h.TimeoutMs) * time.Millisecond,
		DrainTimeout: time.Second,
		Version:      "replay",
		Extra:        map[string]http.Handler{},
	}
	e := &embedded{}
	if mode == replay.ModeFull {
		cfg.HostBackend = true
	} else {
		emu, err := emulator.New(emulator.Config{})
		if err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
		e.Emulator = emu
		cfg.Backend = emu
		cfg.OnSessionEnd = emu.ForgetSession
		cfg.Extra["/api/v1/emulator/"] = emu.AdminHandler()
		cfg.Extra["/api/data/v9.2/"] = emu.WebAPIHandler()
	}
	if opts.Ledger {
		if err := e.openLedger(opts.LedgerDir, cfg.Extra); err != nil {
			return nil, err
		}
	}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	srv, err := bridge.New(cfg)
	if err == nil && e.Ledger != nil {
		var eng *retry.Engine
		if eng, err = retry.New(retry.Config{Bridge: srv, Ledger: e.Ledger}); err == nil {
			eng.Register(srv)
		}
	}
	if err != nil {
		e.closeLedger()
		return nil, fmt.Errorf("embedded bridge: %w", err)
	}
	e.Server = srv
	e.ln = pipenet.Listen()
	e.HTTPClient = e.ln.Client()
	e.hs = &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go e.hs.Serve(e.ln)
	e.URL = "ws://" + e.ln.Addr().String() + protocol.PathWidget
	return e, nil
}

// openLedger opens the duplicate ledger in dir (a temporary one when empty)
// and mounts its REST API on extra.
func (e *embedded) openLedger(dir string, extra map[string]http.Handler) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "cifbridge-replay-")
		if err != nil {
			return fmt.Errorf("embedded ledger: %w", err)
		}
		dir, e.tmpDir = tmp, tmp
	}
	l, err := ledger.Open(filepath.Join(dir, ledger.FileName))
	if err != nil {
		e.closeLedger()
		return fmt.Errorf("embedded ledger: %w", err)
	}
	e.Ledger = l
	h := ledger.Handler(l, zerolog.Nop())
	extra[ledger.PathList] = h
	extra[ledger.PathOne] = h
	return nil
}

func (e *embedded) closeLedger() {
	if e.Ledger != nil {
		_ = e.Ledger.Close()
	}
	if e.tmpDir != "" {
		_ = os.RemoveAll(e.tmpDir)
	}
}

// Close shuts the bridge down and closes the ledger.
func (e *embedded) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = e.Server.Shutdown(ctx)
	_ = e.hs.Shutdown(ctx)
	e.ln.Close()
	e.HTTPClient.CloseIdleConnections()
	e.closeLedger()
}
