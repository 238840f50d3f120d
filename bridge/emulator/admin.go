package emulator

import (
	"net/http"

	"github.com/cifbridge/cifbridge/internal/httpjson"
	"github.com/cifbridge/cifbridge/protocol"
)

// Admin paths served by AdminHandler (full paths).
const (
	PathFaults = "/api/v1/emulator/faults" // GET the fault profile, PUT a new one
	PathStats  = "/api/v1/emulator/stats"  // GET protocol.EmulatorStats
	PathReset  = "/api/v1/emulator/reset"  // POST: empty the store and the counters
)

// maxAdminBody bounds a PUT /api/v1/emulator/faults body.
const maxAdminBody = 1 << 20

// AdminHandler serves the emulator's admin API on full paths:
//
//	GET  /api/v1/emulator/faults  → 200 FaultProfile
//	PUT  /api/v1/emulator/faults  ← FaultProfile → 200 the profile now active
//	GET  /api/v1/emulator/stats   → 200 protocol.EmulatorStats
//	POST /api/v1/emulator/reset   → 204 (empties the store and counters; faults are kept, seed not re-applied)
//
// Errors have the shape of the rest of the admin API,
// {"error":{"code":…,"message":…}} with a protocol code:
//
//	400 -32602  the fault profile is not valid JSON or breaks a rule ("rules[0].method is required…")
//	404 -32601  no such admin path under /api/v1/emulator/
//	405 -32600  a known path with the wrong HTTP method (the Allow header names the right one)
//	413 -32602  the body is larger than 1 MiB
//
// Authorisation is the caller's business (the daemon wraps it).
func (e *Emulator) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	httpjson.Setting[protocol.FaultProfile]{
		Name: "fault profile", What: "the fault profile", Limit: maxAdminBody,
		Example: `{"seed":1,"rules":[{"method":"createrecord",…}]}`,
		Get:     func() any { return e.Faults() },
		Set:     e.SetFaults,
		Done: func(p protocol.FaultProfile) {
			e.log.Info().Int("rules", len(p.Rules)).Int64("seed", p.Seed).Msg("emulator fault profile set")
		},
	}.Handle(mux, PathFaults)
	mux.HandleFunc("GET "+PathStats, func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, e.Stats())
	})
	mux.HandleFunc("POST "+PathReset, func(w http.ResponseWriter, r *http.Request) {
		e.Reset()
		e.log.Info().Msg("emulator reset")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/", httpjson.Fallback("emulator admin", adminMethods, PathFaults, PathStats, PathReset))
	return mux
}

// adminMethods are the methods each admin path serves, for 405 answers.
var adminMethods = map[string]string{
	PathFaults: "GET, PUT",
	PathStats:  "GET",
	PathReset:  "POST",
}
