package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/bridge/retry"
)

// The retry plug-in: the duplicate ledger under --data-dir, its REST API and
// metrics, and the retry engine behind enreach.xrm.*.
type retryPlugin struct {
	noSteps
	idempotent bool // --idempotent-creates

	ledger *ledger.Ledger // opened by configure, closed by stop
	opened time.Time      // when configure opened it: older suspected entries are a previous run's

	// reconcileMu guards recheck, the timer that settles a previous run's
	// suspected entries once their late window ends; stop ends it.
	reconcileMu sync.Mutex
	recheck     *time.Timer
	stopped     bool
}

func (p *retryPlugin) flags(fs *flag.FlagSet) {
	fs.BoolVar(&p.idempotent, "idempotent-creates", false, "make enreach.xrm.createRecord idempotent by default: a GUID in the primary key makes a retried create unable to duplicate (a widget may still send idempotent:false)")
}

func (p *retryPlugin) configure(env *serveEnv) error {
	path := filepath.Join(env.Flags.dataDir, ledger.FileName)
	l, err := ledger.Open(path)
	if err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	p.ledger = l
	p.opened = time.Now()
	h := ledger.Handler(l, env.Log.With().Str("component", "ledger").Logger())
	env.Config.Extra[ledger.PathList] = h
	env.Config.Extra[ledger.PathOne] = h
	env.Log.Info().Str("path", path).Msg("duplicate ledger open")
	return nil
}

func (p *retryPlugin) start(_ context.Context, env *serveEnv) error {
	cfg := retry.Config{Bridge: env.Server, Ledger: p.ledger, IdempotentCreates: p.idempotent, Logger: env.Log}
	if env.Emulator != nil {
		cfg.Keys = emulatorKeys{env.Emulator}
	}
	eng, err := retry.New(cfg)
	if err != nil {
		return err
	}
	eng.Register(env.Server)
	p.reconcile(env)
	for _, c := range p.ledger.Collectors() {
		if err := env.Server.Registry().Register(c); err != nil {
			return fmt.Errorf("register ledger metrics: %w", err)
		}
	}
	return nil
}

func (p *retryPlugin) stop(env *serveEnv) {
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
	res, err := p.ledger.Reconcile(ctx, p.opened, env.Flags.lateWindow, check)
	if err != nil && check != nil {
		env.Log.Warn().Err(err).Msg("ledger reconciliation could not look records up by key; settling by the late window only")
		res, err = p.ledger.Reconcile(ctx, p.opened, env.Flags.lateWindow, nil)
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
