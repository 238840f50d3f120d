package enreachemu

import (
	"net/http"

	"github.com/cifbridge/cifbridge/internal/httpjson"
	"github.com/cifbridge/cifbridge/protocol"
)

// Admin paths served by AdminHandler (full paths, under the daemon's admin
// token like the rest of /api/v1/).
const (
	AdminPrefix   = "/api/v1/enreach-emulator/"
	PathFaults    = AdminPrefix + "faults"    // GET the fault profile, PUT a new one
	PathResponses = AdminPrefix + "responses" // GET the canned responses, PUT new ones
	PathStats     = AdminPrefix + "stats"     // GET Stats
	PathReset     = AdminPrefix + "reset"     // POST: clear counters, A-numbers and calls
	PathCalls     = AdminPrefix + "calls"     // POST {"to","userId"?}: place a call (uses up the next-call A-number)
)

// AdminHandler serves the emulator's admin API:
//
//	GET  /api/v1/enreach-emulator/faults     → 200 FaultProfile
//	PUT  /api/v1/enreach-emulator/faults     ← FaultProfile → 200 the profile now active
//	GET  /api/v1/enreach-emulator/responses  → 200 [Response]
//	PUT  /api/v1/enreach-emulator/responses  ← [Response] → 200 the responses now active
//	GET  /api/v1/enreach-emulator/stats      → 200 Stats
//	POST /api/v1/enreach-emulator/calls      ← {"to","userId"?} → 201 Call (uses up the user's next-call A-number; GET /calls lists it)
//	POST /api/v1/enreach-emulator/reset      → 204 (counters, A-numbers, calls; faults and responses stay)
//
// Errors are {"error":{"code","message"}} as in the rest of the admin API:
// 400 -32602 (bad JSON or a broken rule, named), 404 -32601, 405 -32600,
// 413 -32602 (body over 1 MiB).
func (e *Emulator) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	httpjson.Setting[FaultProfile]{
		Name: "fault profile", What: "the body", Limit: maxBody,
		Example: `{"seed":1,"rules":[{"method":"GET","path":"/users/me","status":503}]}`,
		Get:     func() any { return e.Faults() },
		Set:     e.SetFaults,
		Done: func(p FaultProfile) {
			e.log.Info().Int("rules", len(p.Rules)).Int64("seed", p.Seed).Msg("enreach emulator fault profile set")
		},
	}.Handle(mux, PathFaults)
	httpjson.Setting[[]Response]{
		Name: "canned responses", What: "the body", Limit: maxBody,
		Example: `[{"method":"GET","path":"/calls","status":200,"body":[]}]`,
		Get:     func() any { return e.Responses() },
		Set:     e.SetResponses,
		Done: func(rs []Response) {
			e.log.Info().Int("responses", len(rs)).Msg("enreach emulator canned responses set")
		},
	}.Handle(mux, PathResponses)
	mux.HandleFunc("GET "+PathStats, func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, e.Stats())
	})
	mux.HandleFunc("POST "+PathCalls, func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			To     string `json:"to"`
			UserID string `json:"userId"`
		}
		if !httpjson.ReadStrict(w, r, &in, maxBody, "the body", `{"to":"+358501234567"}`) {
			return
		}
		c, err := e.PlaceCall(in.UserID, in.To)
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, protocol.InvalidParams("place a call: %v", err))
			return
		}
		httpjson.Write(w, http.StatusCreated, c)
	})
	mux.HandleFunc("POST "+PathReset, func(w http.ResponseWriter, r *http.Request) {
		e.Reset()
		e.log.Info().Msg("enreach emulator reset")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/", httpjson.Fallback("Enreach emulator admin", adminMethods, PathFaults, PathResponses, PathStats, PathCalls, PathReset))
	return mux
}

// adminMethods are the methods each admin path serves, for 405 answers.
var adminMethods = map[string]string{
	PathFaults: "GET, PUT", PathResponses: "GET, PUT", PathStats: "GET", PathReset: "POST", PathCalls: "POST",
}
