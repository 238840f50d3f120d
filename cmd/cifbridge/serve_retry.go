package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/bridge/ledger/kvledger"
	"github.com/cifbridge/cifbridge/bridge/retry"
)

// The retry plug-in: the duplicate ledger (under --data-dir, or the
// cluster's JetStream KV bucket: --ledger-store, serve_ledger.go), its REST
// API and metrics, and the retry engine behind enreach.xrm.*.
type retryPlugin struct {
	noSteps
	idempotent bool          // --idempotent-creates
	retention  time.Duration // --ledger-retention
	store      string        // --ledger-store

	ledger     ledger.Store // opened by configure, closed by stop
	stopUpkeep func()       // ends reconciliation and retention and waits for them
	opened     time.Time    // when configure opened it: older suspected entries are a previous run's

	// reconcileMu guards recheck, the timer that settles a previous run's
	// suspected entries once their late window ends; stop ends it.
	reconcileMu sync.Mutex
	recheck     *time.Timer
	stopped     bool
}

// retentionInterval is how often retention prunes the ledger (and once at
// start).
const retentionInterval = time.Hour

func (p *retryPlugin) flags(fs *flag.FlagSet) {
	fs.BoolVar(&p.idempotent, "idempotent-creates", false, "make enreach.xrm.createRecord idempotent by default: a GUID in the primary key makes a retried create unable to duplicate (a widget may still send idempotent:false)")
	fs.StringVar(&p.store, "ledger-store", ledgerAuto, ledgerStoreUsage)
	fs.DurationVar(&p.retention, "ledger-retention", ledger.DefaultRetention, "how long a settled duplicate-ledger entry (acknowledged, expired-unknown, cleared, resolved) is kept after its last change; older ones are pruned at start and hourly (counted in cifbridge_ledger_pruned_total); suspected and confirmed entries are always kept; 0 keeps everything")
}

func (p *retryPlugin) configure(env *serveEnv) error {
	if p.retention < 0 || p.retention > 0 && p.retention < env.Flags.lateWindow {
		return usageError{fmt.Errorf("--ledger-retention must be 0 (keep everything) or at least --late-window (%v), e.g. --ledger-retention 720h; got %v", env.Flags.lateWindow, p.retention)}
	}
	l, where, err := openLedger(env, p.store)
	if err != nil {
		return err
	}
	p.ledger = l
	p.opened = time.Now()
	h := ledger.Handler(l, env.Log.With().Str("component", "ledger").Logger())
	env.Config.Extra[ledger.PathList] = h
	env.Config.Extra[ledger.PathOne] = h
	env.Log.Info().Str("path", where).Msg("duplicate ledger open")
	return nil
}

func (p *retryPlugin) start(ctx context.Context, env *serveEnv) error {
	cfg := retry.Config{Bridge: env.Server, Ledger: p.ledger, IdempotentCreates: p.idempotent, Logger: env.Log}
	if env.Emulator != nil {
		cfg.Keys = emulatorKeys{env.Emulator}
	}
	eng, err := retry.New(cfg)
	if err != nil {
		return err
	}
	eng.Register(env.Server)
	for _, c := range ledger.Collectors(p.ledger) {
		if err := env.Server.Registry().Register(c); err != nil {
			return fmt.Errorf("register ledger metrics: %w", err)
		}
	}
	// The cluster's bucket may wait for JetStream (the cluster's first node
	// waits for a quorum): reconciliation and retention then begin once it
	// is ready, and serve starts without waiting. The SQLite file is ready:
	// reconciliation is done before serve takes calls.
	var ready <-chan struct{}
	if kv, ok := p.ledger.(*kvledger.Store); ok {
		ready = kv.Ready()
	} else {
		p.reconcile(env)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	log := env.Log.With().Str("component", "ledger").Logger()
	go func() {
		defer close(done)
		if ready != nil {
			select {
			case <-ready:
				p.reconcile(env)
			case <-ctx.Done():
				return
			}
		}
		if p.retention > 0 {
			ledger.Retention(ctx, p.ledger, p.retention, min(retentionInterval, p.retention), log)
		}
	}()
	p.stopUpkeep = func() { cancel(); <-done }
	return nil
}

func (p *retryPlugin) stop(env *serveEnv) {
	if p.stopUpkeep != nil {
		p.stopUpkeep()
	}
	if p.ledger == nil {
		return
	}
	p.reconcileMu.Lock()
	p.stopped = true
	if p.recheck != nil {
		p.recheck.Stop()
	}
	p.reconcileMu.Unlock()
	if err := p.ledger.Close(); err != nil {
		env.Log.Error().Err(err).Msg("close the duplicate ledger")
	}
}

// emulatorKeys reads primary-key columns from the emulator's metadata.
type emulatorKeys struct{ e *emulator.Emulator }

func (k emulatorKeys) PrimaryKey(entity string) (string, bool) {
	m, ok := k.e.Entity(entity)
	return m.PrimaryIDAttribute, ok && m.PrimaryIDAttribute != ""
}

// reconcile settles the suspected entries a previous run left (their late
// answers died with it): expired-unknown once their late window passed,
// resolved when the dataverse backend finds the record under the create's
// key. Entries whose window is still open are settled by a timer when it
// ends.
func (p *retryPlugin) reconcile(env *serveEnv) {
	var check ledger.RecordChecker
	if dv, ok := servePluginOf[*dataversePlugin](env); ok && dv.backend != nil {
		check = dv.backend
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := ledger.Reconcile(ctx, p.ledger, p.opened, env.Flags.lateWindow, check)
	if err != nil && check != nil {
		env.Log.Warn().Err(err).Msg("ledger reconciliation could not look records up by key; settling by the late window only")
		res, err = ledger.Reconcile(ctx, p.ledger, p.opened, env.Flags.lateWindow, nil)
	}
	if err != nil {
		env.Log.Error().Err(err).Msg("ledger reconciliation failed: suspected entries of a previous run stay suspected")
		return
	}
	if res.Expired+res.Resolved+res.Waiting > 0 {
		env.Log.Info().Int("expired", res.Expired).Int("resolved", res.Resolved).Int("waiting", res.Waiting).
			Msg("ledger: settled the suspected entries a previous run left")
	}
	if res.Next.IsZero() {
		return
	}
	p.reconcileMu.Lock()
	defer p.reconcileMu.Unlock()
	if !p.stopped {
		p.recheck = time.AfterFunc(time.Until(res.Next)+100*time.Millisecond, func() { p.reconcile(env) })
	}
}
