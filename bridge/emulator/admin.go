package emulator

import (
	"encoding/json"
	"io"
	"net/http"
)

// Admin paths served by AdminHandler (full paths).
const (
	PathFaults = "/api/v1/emulator/faults" // GET the fault profile, PUT a new one
	PathStats  = "/api/v1/emulator/stats"  // GET Stats
	PathReset  = "/api/v1/emulator/reset"  // POST: empty the store and the counters
)

// AdminHandler serves the emulator's admin API on full paths:
//
//	GET  /api/v1/emulator/faults  → 200 FaultProfile
//	PUT  /api/v1/emulator/faults  ← FaultProfile → 200 the profile now active; 400 {"error":"rules[0].method is required…"}
//	GET  /api/v1/emulator/stats   → 200 Stats
//	POST /api/v1/emulator/reset   → 204 (empties the store and counters; faults are kept, seed not re-applied)
//
// Authorisation is the caller's business (the daemon wraps it).
func (e *Emulator) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathFaults, func(w http.ResponseWriter, r *http.Request) {
		writeAdminJSON(w, http.StatusOK, e.Faults())
	})
	mux.HandleFunc("PUT "+PathFaults, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			writeAdminError(w, http.StatusBadRequest, "read body: "+err.Error())
			return
		}
		var p FaultProfile
		if err := decodeStrict(b, &p); err != nil {
			writeAdminError(w, http.StatusBadRequest, "fault profile: "+err.Error())
			return
		}
		if err := e.SetFaults(p); err != nil {
			writeAdminError(w, http.StatusBadRequest, err.Error())
			return
		}
		e.log.Info().Int("rules", len(p.Rules)).Int64("seed", p.Seed).Msg("emulator fault profile set")
		writeAdminJSON(w, http.StatusOK, e.Faults())
	})
	mux.HandleFunc("GET "+PathStats, func(w http.ResponseWriter, r *http.Request) {
		writeAdminJSON(w, http.StatusOK, e.Stats())
	})
	mux.HandleFunc("POST "+PathReset, func(w http.ResponseWriter, r *http.Request) {
		e.Reset()
		e.log.Info().Msg("emulator reset")
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeAdminError(w http.ResponseWriter, status int, msg string) {
	writeAdminJSON(w, status, map[string]string{"error": msg})
}
