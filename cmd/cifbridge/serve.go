package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/internal/redact"
	"github.com/cifbridge/cifbridge/protocol"
	"github.com/cifbridge/cifbridge/web"
)

// serveFlags are the flags of cifbridge serve.
type serveFlags struct {
	listen          string
	cifTimeout      time.Duration
	profile         string
	backend         string
	dataDir         string
	emulatorSchema  string
	emulatorSeed    string
	emulatorFaults  string
	emulatorMax     int
	allowedOrigins  string
	maxMessageBytes int64
	maxInflight     int
	lateWindow      time.Duration
	resumeWindow    time.Duration
	drainTimeout    time.Duration
	logLevel        string
	logFormat       string
	tlsCert         string
	tlsKey          string
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8787", "`address` to serve HTTP and WebSockets on (loopback by default; use 0.0.0.0:8787 to expose it)")
	fs.DurationVar(&f.cifTimeout, "cif-timeout", 0, "CIF `timeout` per attempt; when unset the profile decides: 10s for cif1, 100s for cif2")
	fs.StringVar(&f.profile, "profile", protocol.ProfileCIF1, "default session `profile`: cif1 (CIF 1.0, 10 s timeout) or cif2 (CIF 2.0, 100 s); widgets may choose in bridge.hello")
	fs.StringVar(&f.backend, "backend", "emulator", "what executes CIF calls: `emulator` (embedded Dataverse emulator; in cluster mode served to every node), host (peers on /v1/host; in cluster mode they serve every node), dataverse (a real org: see --dataverse-*) or cluster (the emulator node of the cluster: see --nats-url, --cluster-listen)")
	fs.StringVar(&f.dataDir, "data-dir", "./cifbridge-data", "`directory` for durable state (the duplicate ledger)")
	fs.StringVar(&f.emulatorSchema, "emulator-schema", "", "JSON `file` extending the emulator's metadata (entities, lookups, duplicate rules, actions)")
	fs.StringVar(&f.emulatorSeed, "emulator-seed", "", "JSON `file` of records to load into the emulator at start, keyed by entity logical name; unset: a small built-in seed (accounts and contacts whose phone numbers match the sample click-to-act numbers, e.g. Ada Lovelace +358401234567); none: start empty")
	fs.StringVar(&f.emulatorFaults, "emulator-faults", "", "JSON `file` with the emulator's initial fault profile (latency, errors, drops); also PUT /api/v1/emulator/faults")
	fs.IntVar(&f.emulatorMax, "emulator-max-records", emulator.DefaultMaxRecords, "most records created at run time the emulator keeps (seeded ones are always kept); past it the oldest record not read, updated or referenced lately is evicted (counted in /api/v1/emulator/stats), so a long load run keeps bounded memory and the emulator's garbage collection stays out of the bridge's latency; -1 keeps everything")
	fs.StringVar(&f.allowedOrigins, "allowed-origins", "", "comma-separated browser Origin `patterns` allowed besides the bridge's own host and loopback, e.g. '*.crm4.dynamics.com,https://widget.example.com'")
	fs.Int64Var(&f.maxMessageBytes, "max-message-bytes", 1<<20, "largest WebSocket message in `bytes`; a larger one closes the connection with 1009")
	fs.IntVar(&f.maxInflight, "max-inflight", 64, "most concurrent calls per session; more are answered with -32003")
	fs.DurationVar(&f.lateWindow, "late-window", 10*time.Minute, "how long a timed-out attempt waits for its late answer")
	fs.DurationVar(&f.resumeWindow, "resume-window", 2*time.Minute, "how long a disconnected session can be resumed with bridge.hello")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", 10*time.Second, "on SIGTERM, how long in-flight calls may finish before they are answered -32007")
	fs.StringVar(&f.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&f.logFormat, "log-format", "", "log `format`: json or console (default: console on a terminal, json otherwise)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate `file` (chain): serve https and wss instead of http and ws; needs --tls-key. With --listen 127.0.0.1:443 the host page /host/ gets a port-less https origin")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key `file` of --tls-cert")
}

// check refuses the values of serve's own flags that bridge.Config would
// take for "use the default" (a zero or negative window, limit or size), or
// that would fail only later, and at a distance (a port out of range, an
// origin pattern that can never match): each error names its flag and a
// valid value.
func (f *serveFlags) check() error {
	if err := checkListen(f.listen); err != nil {
		return err
	}
	if f.profile != protocol.ProfileCIF1 && f.profile != protocol.ProfileCIF2 {
		return fmt.Errorf("unknown --profile %q: use --profile %s (CIF 1.0, 10 s timeout) or --profile %s (CIF 2.0, 100 s)", f.profile, protocol.ProfileCIF1, protocol.ProfileCIF2)
	}
	if f.maxInflight < 1 {
		return fmt.Errorf("--max-inflight must be at least 1, e.g. --max-inflight 64; got %d", f.maxInflight)
	}
	if f.maxMessageBytes < 1024 {
		return fmt.Errorf("--max-message-bytes must be at least 1024, e.g. --max-message-bytes 1048576 (1 MiB); got %d", f.maxMessageBytes)
	}
	for _, d := range []struct {
		name, example string
		v             time.Duration
	}{{"late-window", "10m", f.lateWindow}, {"resume-window", "2m", f.resumeWindow}, {"drain-timeout", "10s", f.drainTimeout}} {
		if d.v <= 0 {
			return fmt.Errorf("--%s must be positive, e.g. --%s %s; got %v", d.name, d.name, d.example, d.v)
		}
	}
	return checkPatterns("allowed-origins", f.allowedOrigins, "*.crm4.dynamics.com")
}

// checkListen refuses a --listen that is not HOST:PORT with a port net.Listen
// takes (a number up to 65535, or a service name).
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = net.LookupPort("tcp", port)
	}
	if err != nil {
		return fmt.Errorf("--listen %q is not HOST:PORT (%v), e.g. --listen 127.0.0.1:8787", addr, err)
	}
	return nil
}

// checkPatterns refuses a comma-separated list of path.Match patterns (the
// value of --name) with a malformed one, which would never match anything.
func checkPatterns(name, list, example string) error {
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("--%s: pattern %q is malformed (%v): use * and ? as wildcards and close every [, e.g. --%s '%s'", name, p, err, name, example)
		}
	}
	return nil
}

// servePlugin adds one concern to serve. Each
// plug-in lives in its own serve_*.go file and is listed once in
// newServePlugins; every run of serve builds its own plug-ins, so a plug-in keeps its
// flag values and whatever it builds in its own typed fields, and two runs in
// one process share nothing. The steps run in this order:
//   - flags binds the plug-in's flags to its fields on the run's FlagSet;
//   - configure runs before bridge.New and may change the Config (the
//     backend, OnFrame, Extra);
//   - start runs once the Server exists (HandleMethod, Mount);
//   - stop runs after the server drained, in reverse order, also when a
//     later step failed (flush, close files and databases).
//
// A plug-in embeds noSteps and overrides the steps it needs. One that needs
// another's value reads it typed with servePluginOf.
type servePlugin interface {
	flags(fs *flag.FlagSet)
	configure(env *serveEnv) error
	start(ctx context.Context, env *serveEnv) error
	stop(env *serveEnv)
}

// noSteps gives a plug-in a no-op for every step it does not define.
type noSteps struct{}

func (noSteps) flags(*flag.FlagSet)                    {}
func (noSteps) configure(*serveEnv) error              { return nil }
func (noSteps) start(context.Context, *serveEnv) error { return nil }
func (noSteps) stop(*serveEnv)                         {}

// namedPlugin is one run's instance of a plug-in: its name (prefixing its
// errors) and its typed state.
type namedPlugin struct {
	name string
	servePlugin
}

// newServePlugins is serve's composition root: every part serve runs, in the
// order it runs them (stop runs in reverse). A run builds a fresh set, so two
// runs in one process share nothing. Adding a part means adding one line here.
func newServePlugins() []namedPlugin {
	return []namedPlugin{
		{"cluster", &clusterPlugin{}},     // serve_cluster.go: --nats-url, --cluster-listen/--cluster-peers, --node-id, --backend cluster (first: its node id goes into every part's logs)
		{"access", &accessPlugin{}},       // serve_access.go: per-role tokens, --allowed-hosts, the non-loopback rule
		{"capture", &capturePlugin{}},     // serve_capture.go: --capture-dir, frames to JSONL
		{"dataverse", &dataversePlugin{}}, // serve_dataverse.go: --backend dataverse
		{"enreach", &enreachPlugin{}},     // serve_enreach.go: --enreach-url upstream
		{"gcfloor", &gcFloorPlugin{}},     // serve_gcfloor.go: --gc-heap-floor, the collector's minimum headroom
		{"limits", &limitsPlugin{}},       // serve_limits.go: send budget, call rate, connection caps, keepalive
		{"hostpage", &hostPagePlugin{}},   // serve_hostpage.go: /host/ settings, --host-trusted-origins
		{"pprof", &pprofPlugin{}},         // serve_pprof.go: --pprof under /api/v1/debug/pprof/
		{"retry", &retryPlugin{}},         // serve_retry.go: ledger under --data-dir, enreach.xrm.*
		{"web", webPlugin{}},              // serve_web.go: dashboard stream
		{"workspace", &workspacePlugin{}}, // serve_workspace.go: --workspace-templates, --notimeout-limit
	}
}

// servePluginOf returns this run's plug-in of type P, e.g.
// servePluginOf[*retryPlugin](env) for the ledger, so plug-ins share values
// typed. ok is false when no such plug-in is registered.
func servePluginOf[P servePlugin](env *serveEnv) (p P, ok bool) {
	for _, np := range env.plugins {
		if p, ok = np.servePlugin.(P); ok {
			return p, true
		}
	}
	return p, false
}

// serveEnv is one run of serve, as plug-ins see it.
type serveEnv struct {
	Flags    *serveFlags
	Set      map[string]bool // flags set explicitly (command line or env)
	Config   *bridge.Config
	Server   *bridge.Server     // nil during configure
	Emulator *emulator.Emulator // nil unless --backend emulator
	Log      zerolog.Logger
	// Secrets are the credentials plug-ins were configured with (tokens,
	// upstream secrets); configure steps add theirs, and the capture
	// plug-in scrubs them from every frame.
	Secrets []redact.Secret

	plugins []namedPlugin // this run's, in registration order
}

// given returns those of names that were set explicitly (command line or
// environment), in the order named.
func (env *serveEnv) given(names ...string) []string {
	var out []string
	for _, n := range names {
		if env.Set[n] {
			out = append(out, n)
		}
	}
	return out
}

// newServeCommand is serve's FlagSet with the flags of serve and of every
// part of newServePlugins bound to a fresh set of values. Every run of serve
// starts here, and so does every daemon replay --embedded starts.
func newServeCommand(out io.Writer) (*flag.FlagSet, *serveFlags, []namedPlugin) {
	f := &serveFlags{}
	fs := newFlagSet("serve", "Runs the bridge: widgets connect to ws://<listen>/v1/widget, the dashboard is at http://<listen>/, the emulated Dynamics main window at http://<listen>/host/?widget=<url> (give it a port-less origin: --listen 127.0.0.1:80, see README \"Run a real widget\").", out)
	f.register(fs)
	plugins := newServePlugins()
	for _, p := range plugins {
		p.flags(fs)
	}
	return fs, f, plugins
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f, plugins := newServeCommand(stdout)
	set, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	logOut := &scrubWriter{w: stderr, terminal: isTerminal(stderr)}
	log, err := newLogger(logOut, f.logLevel, f.logFormat)
	if err != nil {
		return usageError{err}
	}
	d, err := newDaemon(ctx, f, set, plugins, log, logOut)
	if err != nil {
		return err
	}
	log = d.env.Log // with the node id in cluster mode
	addr := d.ln.Addr().String()
	ws, web := "ws://", "http://"
	if d.tls {
		ws, web = "wss://", "https://"
	}
	log.Info().
		Str("widget", ws+addr+protocol.PathWidget).
		Str("host", ws+addr+protocol.PathHost).
		Str("dashboard", web+addr+"/").
		Str("hostPage", web+portless(addr, d.tls)+"/host/").
		Str("backend", f.backend).Str("profile", f.profile).Dur("cifTimeout", d.env.Config.CIFTimeout()).
		Str("dataDir", f.dataDir).Str("version", version).
		Msg("cifbridge serving on " + ws + addr + protocol.PathWidget)
	errc := d.serve()
	select {
	case err := <-errc:
		d.shutdown()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down: draining in-flight calls")
	d.shutdown()
	log.Info().Msg("stopped")
	return nil
}

// daemon is what serve runs: the bridge with every part of newServePlugins,
// listening. replay --embedded builds the same.
type daemon struct {
	env *serveEnv
	srv *bridge.Server
	hs  *http.Server
	ln  net.Listener
	tls bool // ln serves https and wss (--tls-cert)

	once sync.Once
}

// newDaemon builds serve's daemon from parsed flags: the backend, then each
// part's configure (in newServePlugins order), bridge.New, each part's
// start, and the listener on --listen. On error what was built is stopped
// again. scrub, when set, is log's output: once the parts are configured it
// scrubs their secrets from every line.
func newDaemon(ctx context.Context, f *serveFlags, set map[string]bool, plugins []namedPlugin, log zerolog.Logger, scrub *scrubWriter) (d *daemon, err error) {
	if err := f.check(); err != nil {
		return nil, usageError{err}
	}
	cfg := bridge.Config{
		Profile:         f.profile,
		LateWindow:      f.lateWindow,
		ResumeWindow:    f.resumeWindow,
		MaxMessageBytes: f.maxMessageBytes,
		MaxInFlight:     f.maxInflight,
		DrainTimeout:    f.drainTimeout,
		Version:         version,
		Logger:          log,
		Extra:           map[string]http.Handler{},
	}
	if set["cif-timeout"] {
		if f.cifTimeout <= 0 {
			return nil, usageError{fmt.Errorf("--cif-timeout must be positive, e.g. --cif-timeout 10s; got %v", f.cifTimeout)}
		}
		cfg.Timeout = f.cifTimeout
	}
	for _, o := range strings.Split(f.allowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, o)
		}
	}
	tlsCfg, err := loadTLS(f.tlsCert, f.tlsKey)
	if err != nil {
		return nil, usageError{err}
	}
	if err := os.MkdirAll(f.dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create --data-dir: %w", err)
	}
	var emu *emulator.Emulator
	switch f.backend {
	case "emulator":
		emu, err = newEmulator(*f, log)
		if err != nil {
			return nil, err
		}
		cfg.Backend = emu
		cfg.OnSessionEnd = emu.ForgetSession
		cfg.Extra["/api/v1/emulator/"] = emu.AdminHandler()
		cfg.Extra["/api/data/v9.2/"] = emu.WebAPIHandler()
	case "host":
		cfg.HostBackend = true
	default:
		if !backendKnown(f.backend) {
			return nil, usageError{fmt.Errorf("unknown --backend %q: use emulator, host%s", f.backend, extraBackends())}
		}
	}
	web.Mount(cfg.Extra)
	env := &serveEnv{Flags: f, Set: set, Config: &cfg, Emulator: emu, Log: log, plugins: plugins}
	built := &daemon{env: env}
	defer func() {
		if err == nil {
			return
		}
		if built.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = built.srv.Shutdown(ctx)
		}
		built.stopPlugins()
	}()
	for _, p := range plugins {
		if err := p.configure(env); err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	if cfg.Backend == nil && !cfg.HostBackend {
		return nil, usageError{fmt.Errorf("--backend %s is not configured: see cifbridge serve --help", f.backend)}
	}
	// From here on no log line carries a configured secret, in any encoding.
	if scrub != nil {
		scrub.secrets.Store(redact.NewSet(env.Secrets...))
	}
	if built.srv, err = bridge.New(cfg); err != nil {
		return nil, usageError{err}
	}
	env.Server = built.srv
	for _, p := range plugins {
		if err := p.start(ctx, env); err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	if built.ln, err = net.Listen("tcp", f.listen); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", f.listen, listenHint(f.listen, err))
	}
	if tlsCfg != nil {
		built.ln = tls.NewListener(built.ln, tlsCfg)
		built.tls = true
	}
	built.hs = &http.Server{
		Handler:           built.srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          httpErrorLog(env.Log, 10*time.Second),
	}
	return built, nil
}

// serve serves HTTP and WebSockets on the listener; the channel gets the
// error that stopped it.
func (d *daemon) serve() <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- d.hs.Serve(d.ln) }()
	return errc
}

// shutdown drains the bridge within --drain-timeout, closes the HTTP
// server and stops the parts in reverse order. Once.
func (d *daemon) shutdown() {
	d.once.Do(func() {
		log := d.env.Log
		sctx, cancel := context.WithTimeout(context.Background(), d.env.Flags.drainTimeout+5*time.Second)
		defer cancel()
		if err := d.srv.Shutdown(sctx); err != nil {
			log.Warn().Err(err).Msg("drain did not finish in time")
		}
		hctx, hcancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer hcancel()
		_ = d.hs.Shutdown(hctx)
		d.stopPlugins()
	})
}

// stopPlugins runs every part's stop, in reverse order (they close files
// and databases; a part that never configured has nothing to stop).
func (d *daemon) stopPlugins() {
	for i := len(d.env.plugins) - 1; i >= 0; i-- {
		d.env.plugins[i].stop(d.env)
	}
}

// extraBackendNames are backends added by plug-ins (serve_dataverse.go,
// serve_cluster.go).
var extraBackendNames = []string{"dataverse", "cluster"}

func backendKnown(name string) bool {
	for _, n := range extraBackendNames {
		if n == name {
			return true
		}
	}
	return false
}

func extraBackends() string {
	out := ""
	for _, n := range extraBackendNames {
		out += " or " + n
	}
	return out
}

func newEmulator(f serveFlags, log zerolog.Logger) (*emulator.Emulator, error) {
	var cfg emulator.Config
	cfg.Logger = log.With().Str("component", "emulator").Logger()
	if f.emulatorMax == 0 || f.emulatorMax < -1 {
		return nil, usageError{fmt.Errorf("--emulator-max-records must be a positive count, or -1 for no bound; got %d", f.emulatorMax)}
	}
	cfg.MaxRecords = f.emulatorMax
	read := func(flagName, path string) ([]byte, error) {
		if path == "" {
			return nil, nil
		}
		b, err := os.ReadFile(filepath.Clean(path))
		if err != nil {
			return nil, usageError{fmt.Errorf("--%s: %w", flagName, err)}
		}
		return b, nil
	}
	var err error
	if cfg.Schema, err = read("emulator-schema", f.emulatorSchema); err != nil {
		return nil, err
	}
	switch f.emulatorSeed {
	case "":
		cfg.Seed = emulator.BuiltinSeed
	case "none":
	default: // a file; "./none" names a file called none
		if cfg.Seed, err = read("emulator-seed", f.emulatorSeed); err != nil {
			return nil, err
		}
	}
	faults, err := read("emulator-faults", f.emulatorFaults)
	if err != nil {
		return nil, err
	}
	if faults != nil {
		if cfg.Faults, err = emulator.ParseFaultProfile(faults); err != nil {
			return nil, usageError{fmt.Errorf("--emulator-faults %s: %w", f.emulatorFaults, err)}
		}
	}
	e, err := emulator.New(cfg)
	if err != nil {
		// The emulator's error says "schema: …" or "seed: …"; name the file
		// and its flag, which the person at the terminal has to fix.
		var files []string
		if f.emulatorSchema != "" {
			files = append(files, "--emulator-schema "+f.emulatorSchema)
		}
		if cfg.Seed != nil && f.emulatorSeed != "" {
			files = append(files, "--emulator-seed "+f.emulatorSeed)
		}
		if len(files) > 0 {
			return nil, usageError{fmt.Errorf("emulator (%s): %w", strings.Join(files, ", "), err)}
		}
		return nil, usageError{fmt.Errorf("emulator: %w", err)}
	}
	return e, nil
}

// setTimeFormat sets zerolog's process-wide time format once, so runs of
// serve in parallel (tests) do not race on it.
var setTimeFormat sync.Once

func newLogger(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	setTimeFormat.Do(func() { zerolog.TimeFieldFormat = time.RFC3339Nano })
	switch format {
	case "":
		if isTerminal(w) {
			w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
		}
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	case "json":
	default:
		return zerolog.Nop(), fmt.Errorf("--log-format %q: use json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("svc", "cifbridge").Logger(), nil
}

// scrubWriter is serve's log output: each line is scrubbed of the
// configured secrets (set once the plug-ins are configured) before it is
// written. zerolog writes one line per Write.
type scrubWriter struct {
	w        io.Writer
	terminal bool // w is a terminal: console format by default
	secrets  atomic.Pointer[redact.Set]
}

func (s *scrubWriter) Write(p []byte) (int, error) {
	if _, err := s.w.Write(s.secrets.Load().Bytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func isTerminal(w io.Writer) bool {
	if s, ok := w.(*scrubWriter); ok {
		return s.terminal
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
