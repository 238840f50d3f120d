package main

import (
	"flag"
	"net/http"
	"net/http/pprof"
)

// The profiler: --pprof serves Go's runtime profiles under
// /api/v1/debug/pprof/ (admin token required, like the rest of /api/), e.g.
//
//	go tool pprof http://127.0.0.1:8787/api/v1/debug/pprof/profile?seconds=20
type pprofPlugin struct {
	noSteps
	on bool
}

func (p *pprofPlugin) flags(fs *flag.FlagSet) {
	fs.BoolVar(&p.on, "pprof", false, "serve Go runtime profiles (CPU, heap, goroutines) at /api/v1/debug/pprof/ for 'go tool pprof'; off by default, admin token required")
}

func (p *pprofPlugin) configure(env *serveEnv) error {
	if !p.on {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	env.Config.Extra["/api/v1/debug/pprof/"] = http.StripPrefix("/api/v1", mux)
	env.Log.Warn().Msg("profiling on: /api/v1/debug/pprof/ (--pprof)")
	return nil
}
