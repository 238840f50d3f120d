package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

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
