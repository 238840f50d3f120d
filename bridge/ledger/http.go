package ledger

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/internal/httpjson"
	"github.com/cifbridge/cifbridge/protocol"
)

// REST paths served by Handler.
const (
	PathList = "/api/v1/ledger"
	PathOne  = "/api/v1/ledger/"
)

// HTTP error codes in {"error":{"code","message"}}: the JSON-RPC codes the
// rest of the admin API uses.
const (
	codeBadRequest = protocol.CodeInvalidParams // a bad query parameter or body
	codeNotFound   = protocol.CodeInvalidParams // no entry with that id (HTTP 404 tells it apart)
	codeInternal   = protocol.CodeInternal
)

// Handler serves the ledger's REST API (mount it on PathList and PathOne):
//
//	GET  /api/v1/ledger?status=&session=&since=&limit=  → {"entries":[Entry…],"totals":Totals}
//	GET  /api/v1/ledger/{id}                            → Entry
//	POST /api/v1/ledger/{id}/acknowledge {"note":"…"}   → Entry (status "acknowledged")
//
// since is an RFC 3339 time (entries updated at or after it) or a duration
// back from now ("15m"); limit is 1..1000 (default 100). Errors are
// {"error":{"code":-32602,"message":"…"}} with 400 for bad input, 404 for an
// unknown id, 500 when the database fails (the message then says nothing
// more; the log has the cause).
func Handler(l Store, log zerolog.Logger) http.Handler {
	h := &handler{l: l, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathList, h.list)
	mux.HandleFunc("GET "+PathOne+"{id}", h.get)
	mux.HandleFunc("POST "+PathOne+"{id}/acknowledge", h.ack)
	mux.HandleFunc(PathList, h.notAllowed)
	mux.HandleFunc(PathOne, h.notAllowed)
	return mux
}

type handler struct {
	l   Store
	log zerolog.Logger
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "status", "session", "since", "limit":
		case "access_token": // the admin token, checked by the bridge before this handler, as on every admin path
		default:
			writeError(w, http.StatusBadRequest, codeBadRequest, "unknown query parameter "+strconv.Quote(k)+": use status, session, since or limit")
			return
		}
	}
	var f Filter
	if s := q.Get("status"); s != "" {
		f.Status = protocol.LedgerStatus(s)
		if !f.Status.Valid() {
			writeError(w, http.StatusBadRequest, codeBadRequest, "status "+strconv.Quote(s)+" is not a ledger status: use one of "+statusList())
			return
		}
	}
	f.Session = q.Get("session")
	if s := q.Get("since"); s != "" {
		t, err := parseSince(s, time.Now())
		if err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
			return
		}
		f.Since = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			writeError(w, http.StatusBadRequest, codeBadRequest, "limit "+strconv.Quote(s)+" must be a whole number from 1 to "+strconv.Itoa(MaxLimit))
			return
		}
		f.Limit = n
	}
	entries, err := h.l.List(r.Context(), f)
	if err != nil {
		h.internal(w, err)
		return
	}
	// totals are the whole ledger's duplicate counters, whatever the filter.
	totals, err := h.l.Totals(r.Context())
	if err != nil {
		h.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, protocol.LedgerList{Entries: entries, Totals: &totals})
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	e, err := h.l.Get(r.Context(), r.PathValue("id"))
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (h *handler) ack(w http.ResponseWriter, r *http.Request) {
	var body protocol.LedgerAcknowledgeParams
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "read body: "+err.Error())
		return
	}
	if len(strings.TrimSpace(string(b))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, `body must be empty or {"note":"…"}: `+strings.TrimPrefix(err.Error(), "json: "))
			return
		}
	}
	e, err := Acknowledge(r.Context(), h.l, r.PathValue("id"), body.Note)
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (h *handler) notAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusMethodNotAllowed, codeBadRequest, r.Method+" "+r.URL.Path+" is not served: use GET "+PathList+", GET "+PathOne+"{id} or POST "+PathOne+"{id}/acknowledge")
}

// failed answers err, if any, and reports whether it did.
func (h *handler) failed(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, "no ledger entry "+strconv.Quote(r.PathValue("id")))
	default:
		h.internal(w, err)
	}
	return true
}

func (h *handler) internal(w http.ResponseWriter, err error) {
	h.log.Error().Err(err).Msg("ledger REST")
	writeError(w, http.StatusInternalServerError, codeInternal, "internal error: the ledger could not be read or written (see the daemon's log)")
}

// parseSince reads an RFC 3339 time or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, errors.New("since " + strconv.Quote(s) + " must be an RFC 3339 time (2025-05-01T12:00:00Z) or a positive duration back from now (15m)")
}

func statusList() string {
	names := make([]string, len(protocol.LedgerStatuses))
	for i, s := range protocol.LedgerStatuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func writeError(w http.ResponseWriter, status int, code int64, msg string) {
	httpjson.Error(w, status, &protocol.Error{Code: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) { httpjson.Write(w, status, v) }
