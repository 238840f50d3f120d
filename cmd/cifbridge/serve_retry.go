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
func init() {
	var idempotent bool
	servePlugins = append(servePlugins, &servePlugin{
		name: "retry",
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&idempotent, "idempotent-creates", false, "make enreach.xrm.createRecord idempotent by default: a GUID in the primary key makes a retried create unable to duplicate (a widget may still send idempotent:false)")
		},
		configure: func(env *serveEnv) error {
			path := filepath.Join(env.Flags.dataDir, ledger.FileName)
			l, err := ledger.Open(path)
			if err != nil {
				return fmt.Errorf("--data-dir: %w", err)
			}
			env.State["ledger"] = l
			h := ledger.Handler(l, env.Log.With().Str("component", "ledger").Logger())
			env.Config.Extra[ledger.PathList] = h
			env.Config.Extra[ledger.PathOne] = h
			env.Log.Info().Str("path", path).Msg("duplicate ledger open")
			return nil
		},
		start: func(ctx context.Context, env *serveEnv) error {
			l := env.State["ledger"].(*ledger.Ledger)
			cfg := retry.Config{Bridge: env.Server, Ledger: l, IdempotentCreates: idempotent, Logger: env.Log}
			if env.Emulator != nil {
				cfg.Keys = emulatorKeys{env.Emulator}
			}
			eng, err := retry.New(cfg)
			if err != nil {
				return err
			}
			eng.Register(env.Server)
			for _, c := range l.Collectors() {
				if err := env.Server.Registry().Register(c); err != nil {
					return fmt.Errorf("register ledger metrics: %w", err)
				}
			}
			env.State["retry"] = eng
			return nil
		},
		stop: func(env *serveEnv) {
			if l, ok := env.State["ledger"].(*ledger.Ledger); ok {
				if err := l.Close(); err != nil {
					env.Log.Error().Err(err).Msg("close the duplicate ledger")
				}
			}
		},
	})
}

// emulatorKeys reads primary-key columns from the emulator's metadata.
type emulatorKeys struct{ e *emulator.Emulator }

func (k emulatorKeys) PrimaryKey(entity string) (string, bool) {
	m, ok := k.e.Entity(entity)
	return m.PrimaryIDAttribute, ok && m.PrimaryIDAttribute != ""
}
