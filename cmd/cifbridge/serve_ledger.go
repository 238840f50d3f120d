package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cifbridge/cifbridge/bridge/ledger"
	"github.com/cifbridge/cifbridge/bridge/ledger/kvledger"
)

// Where the duplicate ledger lives (--ledger-store).
const (
	ledgerAuto   = "auto"   // nats in cluster mode (with JetStream), sqlite otherwise
	ledgerSQLite = "sqlite" // <data-dir>/ledger.db, this node's own
	ledgerNATS   = "nats"   // the cluster's JetStream KV bucket, shared by every node
)

const ledgerStoreUsage = "where the duplicate ledger lives: `auto|sqlite|nats`. sqlite: <data-dir>/ledger.db, this node's own; " +
	"nats: one JetStream KV bucket shared by every node of the cluster (3 replicas once the cluster has 3 JetStream servers, every write fsynced on the embedded servers), " +
	"so /api/v1/ledger on any node shows every entry; needs cluster mode with JetStream. auto: nats in cluster mode, sqlite otherwise"

// openLedger opens the store --ledger-store names and says where it is.
func openLedger(env *serveEnv, choice string) (ledger.Store, string, error) {
	js, why := clusterJetStream(env)
	switch choice {
	case ledgerAuto:
		if js != nil {
			choice = ledgerNATS
		} else {
			choice = ledgerSQLite
			if why != "" && why != errNoCluster {
				env.Log.Warn().Str("reason", why).Msg("--ledger-store auto: the duplicate ledger stays in this node's SQLite file, so other nodes do not see its entries")
			}
		}
	case ledgerSQLite:
		if js != nil {
			env.Log.Warn().Msg("--ledger-store sqlite in cluster mode: each node keeps its own ledger and /api/v1/ledger shows this node's entries only")
		}
	case ledgerNATS:
		if js == nil {
			return nil, "", usageError{fmt.Errorf("--ledger-store nats: %s", why)}
		}
	default:
		return nil, "", usageError{fmt.Errorf("--ledger-store %q: use auto, sqlite or nats", choice)}
	}
	if choice == ledgerSQLite {
		path := filepath.Join(env.Flags.dataDir, ledger.FileName)
		l, err := ledger.Open(path)
		if err != nil {
			return nil, "", fmt.Errorf("--data-dir: %w", err)
		}
		return l, path, nil
	}
	s := kvledger.Open(js, kvledger.Config{Log: env.Log.With().Str("component", "ledger").Logger()})
	return s, "JetStream KV bucket " + kvledger.DefaultBucket, nil
}

const errNoCluster = "needs cluster mode: --nats-url nats://HOST:4222, or --cluster-listen HOST:PORT --cluster-peers HOST:PORT,…"

// clusterJetStream is the cluster's JetStream, or nil and why there is
// none.
func clusterJetStream(env *serveEnv) (jetstream.JetStream, string) {
	cp, ok := servePluginOf[*clusterPlugin](env)
	if !ok || cp.nc == nil {
		return nil, errNoCluster
	}
	if cp.embedded != nil && !cp.embedded.S.JetStreamEnabled() {
		return nil, "this node's embedded NATS server runs no JetStream (--cluster-listen without --cluster-peers): give --cluster-peers"
	}
	js, err := jetstream.New(cp.nc)
	if err != nil {
		return nil, errors.Join(errors.New("JetStream"), err).Error()
	}
	return js, ""
}
