package enreachemu

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/internal/inproc"
)

// maxBody bounds a request body (REST face and admin API).
const maxBody = 1 << 20

// Emulator is an in-memory Enreach REST API. It is safe for concurrent use.
type Emulator struct {
	log    zerolog.Logger
	users  []User            // immutable after New
	tokens map[string]string // immutable after New; nil: any bearer is the first user
	faults faults
	now    func() time.Time

	mu        sync.Mutex
	responses []Response
	stats     counters
	aNumbers  map[string]ANumber // user id → the A-number set for the next call
	calls     []Call             // placed with PlaceCall (admin POST …/calls), newest last
}

// Call is a call placed in the emulator (PlaceCall), as GET /calls lists it.
// ANumber is what the called party saw: the number setANumber set for this
// call, which the call used up, or "" for the user's own.
type Call struct {
	ID        string `json:"Id"`
	UserID    string `json:"UserID"`
	ANumber   string `json:"ANumber"`
	BNumber   string `json:"BNumber"`
	Direction string `json:"Direction"`
	StartTime string `json:"StartTime"` // UTC yyyy-MM-dd HH:mm:ss
}

// maxCalls bounds the calls kept (the oldest go first).
const maxCalls = 10000

// ANumber is an A-number set for a user's next call.
type ANumber struct {
	UserID string    `json:"userId"`
	Number string    `json:"number"`
	SetAt  time.Time `json:"setAt"`
}

// Stats is the emulator's ground truth.
type Stats struct {
	// Requests counts requests by "METHOD route": the route is the
	// documented path template ("GET /users/me",
	// "POST /users/{userId}/features/cli/activate/"), a canned response's
	// path, or "unmatched" for a 404 — so the keys stay few whatever the
	// callers send.
	Requests map[string]int64 `json:"requests"`
	// Unauthorized counts requests refused with 401.
	Unauthorized int64 `json:"unauthorized"`
	// NotFound counts requests answered 404 because no route matched.
	NotFound int64 `json:"notFound"`
	// FaultsApplied, Delayed, InjectedErrors and Dropped count what the
	// fault rules did.
	FaultsApplied  int64 `json:"faultsApplied"`
	Delayed        int64 `json:"delayed"`
	InjectedErrors int64 `json:"injectedErrors"`
	Dropped        int64 `json:"dropped"`
	// NextCallANumbers is, per user id, the A-number the next call will
	// show (set by setANumber, for the next call only).
	NextCallANumbers map[string]ANumber `json:"nextCallANumbers"`
}

type counters struct {
	requests                                        map[string]int64
	unauthorized, notFound                          int64
	faultsApplied, delayed, injectedErrors, dropped int64
}

// Config configures New.
type Config struct {
	Spec   Spec
	Logger zerolog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// New builds an emulator from a validated Spec.
func New(cfg Config) (*Emulator, error) {
	if err := cfg.Spec.Validate(); err != nil {
		return nil, err
	}
	e := &Emulator{
		log:       cfg.Logger,
		users:     cfg.Spec.users(),
		tokens:    cfg.Spec.Tokens,
		now:       cfg.Now,
		responses: slices.Clone(cfg.Spec.Responses),
		aNumbers:  map[string]ANumber{},
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.stats.requests = map[string]int64{}
	p := FaultProfile{}
	if cfg.Spec.Faults != nil {
		p = *cfg.Spec.Faults
	}
	e.faults.set(p)
	return e, nil
}

// Credentials returns the Basic credentials (email, secret key) of the
// first user: what the daemon's Enreach client signs in with.
func (e *Emulator) Credentials() (user, secret string) {
	return e.users[0].Email, e.users[0].SecretKey
}

// SetFaults replaces the fault profile, restarting its draws and counts.
func (e *Emulator) SetFaults(p FaultProfile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	e.faults.set(p)
	return nil
}

// Faults returns the active fault profile.
func (e *Emulator) Faults() FaultProfile { return e.faults.get() }

// SetResponses replaces the canned responses.
func (e *Emulator) SetResponses(rs []Response) error {
	if err := validateResponses(rs); err != nil {
		return err
	}
	e.mu.Lock()
	e.responses = slices.Clone(rs)
	e.mu.Unlock()
	return nil
}

// Responses returns the canned responses.
func (e *Emulator) Responses() []Response {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := slices.Clone(e.responses)
	if out == nil {
		out = []Response{}
	}
	return out
}

// Stats returns a snapshot of the counters.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{
		Requests: make(map[string]int64, len(e.stats.requests)), Unauthorized: e.stats.unauthorized, NotFound: e.stats.notFound,
		FaultsApplied: e.stats.faultsApplied, Delayed: e.stats.delayed, InjectedErrors: e.stats.injectedErrors, Dropped: e.stats.dropped,
		NextCallANumbers: make(map[string]ANumber, len(e.aNumbers)),
	}
	for k, v := range e.stats.requests {
		s.Requests[k] = v
	}
	for k, v := range e.aNumbers {
		s.NextCallANumbers[k] = v
	}
	return s
}

// Reset clears the counters, the A-numbers and the calls; faults and
// responses stay.
func (e *Emulator) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats = counters{requests: map[string]int64{}}
	e.aNumbers = map[string]ANumber{}
	e.calls = nil
}

// PlaceCall places an outbound call of user (its id; "" for the first user)
// to bNumber: it uses up the A-number setANumber set for the user's next
// call, and GET /calls lists it.
func (e *Emulator) PlaceCall(userID, bNumber string) (Call, error) {
	u := &e.users[0]
	if userID != "" {
		if u = e.userByID(userID); u == nil {
			return Call{}, fmt.Errorf("no user with id %q", userID)
		}
	}
	bNumber = strings.TrimSpace(bNumber)
	if bNumber == "" || len(bNumber) > 32 {
		return Call{}, errors.New(`"to" must be the called number (at most 32 characters), e.g. "+358501234567"`)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := Call{ID: uuid.NewString(), UserID: u.ID, BNumber: bNumber, Direction: "outbound", StartTime: e.now().UTC().Format(callTimeLayout)}
	if a, ok := e.aNumbers[u.ID]; ok {
		c.ANumber = a.Number
		delete(e.aNumbers, u.ID) // for the next call only
	}
	e.calls = append(e.calls, c)
	if len(e.calls) > maxCalls {
		e.calls = slices.Delete(e.calls, 0, len(e.calls)-maxCalls)
	}
	return c, nil
}

func (e *Emulator) count(f func(c *counters)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(&e.stats)
}

// apiError writes the error shape of an ASP.NET Web API service,
// {"Message": "…"}: the Enreach API's error body is not documented, and this
// is the default of the framework its answers look like.
func apiError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"Message": fmt.Sprintf(format, args...)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"Message":"An error has occurred."}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	if len(body) == 0 {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// route is a matched built-in route.
type route struct {
	name    string // "/users/{userId}/features/cli/activate/"
	methods string // "GET" or "POST, PUT"
	anon    bool
	serve   func(w http.ResponseWriter, r *http.Request, u *User, args []string)
}

// match finds the built-in route of a path (segments without empties).
func (e *Emulator) match(segs []string) (route, []string, bool) {
	is := func(i int, s string) bool { return len(segs) > i && strings.EqualFold(segs[i], s) }
	switch {
	case len(segs) == 2 && is(0, "users") && is(1, "me"):
		return route{"/users/me", "GET", false, e.serveMe}, nil, true
	case len(segs) == 2 && is(0, "users"):
		return route{"/users/{userId}", "GET", false, e.serveUser}, segs[1:], true
	case len(segs) == 5 && is(0, "users") && is(2, "features") && is(3, "cli") && is(4, "activate"):
		return route{"/users/{userId}/features/cli/activate/", "POST, PUT", false, e.serveActivate}, segs[1:2], true
	case len(segs) == 1 && is(0, "calls"):
		return route{"/calls", "GET", false, e.serveCalls}, nil, true
	case len(segs) == 1 && is(0, "servicecall"):
		return route{"/servicecall", "GET", false, emptyList}, nil, true
	case len(segs) == 1 && is(0, "classificationschemas"):
		return route{"/classificationschemas", "GET", false, emptyList}, nil, true
	case len(segs) == 2 && is(0, "authuser"):
		return route{"/authuser/{email}/", "POST", true, e.serveAuthUser}, segs[1:], true
	}
	return route{}, nil, false
}

// ServeHTTP is the REST face: paths relative to the API root, as the real
// API's https://api-<silo>.enreachvoice.com/ serves them.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	var segs []string
	for _, s := range strings.Split(path, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	method := strings.ToUpper(r.Method)
	rt, args, found := e.match(segs)
	canned, isCanned := e.canned(method, path)
	key := "unmatched"
	switch {
	case isCanned:
		key = method + " " + canned.Path
	case found:
		key = method + " " + rt.name
	}
	if !validMethod(method, false) && key != "unmatched" {
		key = "OTHER " + strings.TrimPrefix(key, method+" ")
	}
	e.count(func(c *counters) { c.requests[key]++ })

	if d := e.faults.decide(method, path); d.applied {
		e.count(func(c *counters) { c.faultsApplied++ })
		if d.delay > 0 {
			e.count(func(c *counters) { c.delayed++ })
			t := time.NewTimer(d.delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if d.drop {
			e.count(func(c *counters) { c.dropped++ })
			<-r.Context().Done()
			return
		}
		if d.status != 0 {
			e.count(func(c *counters) { c.injectedErrors++ })
			if len(d.body) == 0 {
				apiError(w, d.status, "%s", http.StatusText(d.status))
			} else {
				writeRaw(w, d.status, d.body)
			}
			return
		}
	}

	anon := (isCanned && canned.Anonymous) || (!isCanned && found && rt.anon)
	var user *User
	if !anon {
		if user = e.authenticate(r); user == nil {
			e.count(func(c *counters) { c.unauthorized++ })
			w.Header().Set("WWW-Authenticate", `Basic realm="EnreachAPI"`)
			apiError(w, http.StatusUnauthorized, "Authorization has been denied for this request.")
			return
		}
	}
	if isCanned {
		status := canned.Status
		if status == 0 {
			status = http.StatusOK
		}
		writeRaw(w, status, canned.Body)
		return
	}
	if !found {
		e.count(func(c *counters) { c.notFound++ })
		apiError(w, http.StatusNotFound, "No HTTP resource was found that matches the request URI '%s'. The emulator serves /users/me, /users/{userId}, /users/{userId}/features/cli/activate/, /calls, /servicecall, /classificationschemas and /authuser/{email}/, plus the canned responses of --enreach-emulator-file.", path)
		return
	}
	if !slices.Contains(strings.Split(rt.methods, ", "), method) {
		w.Header().Set("Allow", rt.methods)
		apiError(w, http.StatusMethodNotAllowed, "The requested resource does not support http method '%s'.", r.Method)
		return
	}
	rt.serve(w, r, user, args)
}

// canned finds the canned response for a request.
func (e *Emulator) canned(method, path string) (Response, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.responses {
		if strings.EqualFold(c.Method, method) && matchPath(c.Path, path) {
			return c, true
		}
	}
	return Response{}, false
}

// authenticate checks Basic email:secretKey or a bearer token.
func (e *Emulator) authenticate(r *http.Request) *User {
	h := r.Header.Get("Authorization")
	if tok, ok := cutPrefixFold(h, "Bearer "); ok {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			return nil
		}
		if e.tokens == nil {
			return &e.users[0]
		}
		for t, email := range e.tokens {
			if subtle.ConstantTimeCompare([]byte(t), []byte(tok)) == 1 {
				return findUser(e.users, email)
			}
		}
		return nil
	}
	name, secret, ok := r.BasicAuth()
	if !ok {
		return nil
	}
	u := findUser(e.users, name)
	if u == nil || subtle.ConstantTimeCompare([]byte(u.SecretKey), []byte(secret)) != 1 {
		return nil
	}
	return u
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// userJSON is a user as GET /users/me answers it (the fields clients read:
// Id and OrganizationID).
func userJSON(u *User) map[string]any {
	name := u.UserName
	if name == "" {
		name = u.Email
	}
	return map[string]any{
		"Id": u.ID, "OrganizationID": u.OrganizationID, "Email": u.Email, "UserName": name,
		"FirstName": u.FirstName, "LastName": u.LastName,
	}
}

func (e *Emulator) serveMe(w http.ResponseWriter, _ *http.Request, u *User, _ []string) {
	writeJSON(w, http.StatusOK, userJSON(u))
}

func (e *Emulator) userByID(id string) *User {
	for i := range e.users {
		if strings.EqualFold(e.users[i].ID, id) {
			return &e.users[i]
		}
	}
	return nil
}

func (e *Emulator) serveUser(w http.ResponseWriter, _ *http.Request, _ *User, args []string) {
	u := e.userByID(args[0])
	if u == nil {
		apiError(w, http.StatusNotFound, "User '%s' was not found.", args[0])
		return
	}
	writeJSON(w, http.StatusOK, userJSON(u))
}

// aNumberKeys are the body members the activate call reads the number from
// (case-insensitive): the method and body of the real call are not
// documented, the daemon's default body is {"Number": "…"}.
var aNumberKeys = []string{"Number", "ANumber", "CLI", "PhoneNumber", "Value"}

func (e *Emulator) serveActivate(w http.ResponseWriter, r *http.Request, caller *User, args []string) {
	u := e.userByID(args[0])
	if u == nil {
		apiError(w, http.StatusNotFound, "User '%s' was not found.", args[0])
		return
	}
	if u.OrganizationID != caller.OrganizationID {
		apiError(w, http.StatusForbidden, "User '%s' is not in your organization.", args[0])
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var m map[string]json.RawMessage
	if err == nil {
		err = json.Unmarshal(body, &m)
	}
	if err != nil || m == nil {
		apiError(w, http.StatusBadRequest, "The request body must be a JSON object naming the number, e.g. {\"Number\":\"+358401234567\"}.")
		return
	}
	number := ""
	for k, v := range m {
		if slices.ContainsFunc(aNumberKeys, func(n string) bool { return strings.EqualFold(n, k) }) {
			_ = json.Unmarshal(v, &number)
			break
		}
	}
	number = strings.TrimSpace(number)
	if number == "" || len(number) > 32 {
		apiError(w, http.StatusBadRequest, "The request body must name the number as a string of at most 32 characters under one of %s.", strings.Join(aNumberKeys, ", "))
		return
	}
	e.mu.Lock()
	e.aNumbers[u.ID] = ANumber{UserID: u.ID, Number: number, SetAt: e.now().UTC()}
	e.mu.Unlock()
	e.log.Debug().Str("user", u.ID).Msg("enreach emulator: A-number set for the next call")
	w.WriteHeader(http.StatusNoContent)
}

// callTimeLayout is the /calls time format ("yyyy-MM-dd HH:mm:ss", UTC).
const callTimeLayout = "2006-01-02 15:04:05"

func (e *Emulator) serveCalls(w http.ResponseWriter, r *http.Request, _ *User, _ []string) {
	q := r.URL.Query()
	var times [2]time.Time
	for i, name := range []string{"StartTime", "EndTime"} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		t, err := time.Parse(callTimeLayout, v)
		if err != nil {
			apiError(w, http.StatusBadRequest, "%s '%s' is not a UTC time in the format yyyy-MM-dd HH:mm:ss.", name, v)
			return
		}
		times[i] = t
	}
	if !times[0].IsZero() && !times[1].IsZero() {
		if times[1].Before(times[0]) {
			apiError(w, http.StatusBadRequest, "EndTime must not be before StartTime.")
			return
		}
		if times[1].Sub(times[0]) > 31*24*time.Hour {
			apiError(w, http.StatusBadRequest, "The time range must not exceed 31 days.")
			return
		}
	}
	var users []string
	if v := q.Get("UserIDs"); v != "" {
		users = strings.Split(v, ",")
	}
	e.mu.Lock()
	out := []Call{}
	for _, c := range e.calls {
		t, _ := time.Parse(callTimeLayout, c.StartTime)
		if !times[0].IsZero() && t.Before(times[0]) || !times[1].IsZero() && t.After(times[1]) ||
			users != nil && !slices.ContainsFunc(users, func(u string) bool { return strings.EqualFold(strings.TrimSpace(u), c.UserID) }) {
			continue
		}
		out = append(out, c)
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func emptyList(w http.ResponseWriter, _ *http.Request, _ *User, _ []string) {
	writeRaw(w, http.StatusOK, []byte("[]"))
}

// serveAuthUser is POST /authuser/{email}/ {"UserName","Password"} →
// {"SecretKey"}: the key acquisition of the real API.
func (e *Emulator) serveAuthUser(w http.ResponseWriter, r *http.Request, _ *User, args []string) {
	email, err := url.PathUnescape(args[0])
	if err != nil {
		email = args[0]
	}
	var in struct {
		UserName string
		Password string
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, "The request body must be {\"UserName\":\"…\",\"Password\":\"…\"}.")
		return
	}
	u := findUser(e.users, email)
	if u == nil || (in.UserName != "" && findUser(e.users, in.UserName) != u) ||
		subtle.ConstantTimeCompare([]byte(u.Password), []byte(in.Password)) != 1 {
		e.count(func(c *counters) { c.unauthorized++ })
		apiError(w, http.StatusUnauthorized, "Authorization has been denied for this request.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"SecretKey": u.SecretKey})
}

// Transport is an http.RoundTripper that serves requests with the emulator
// in-process, whatever their host: the daemon's Enreach client uses it.
func (e *Emulator) Transport() http.RoundTripper { return transport{e} }

type transport struct{ h http.Handler }

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.RemoteAddr = "in-process"
	r.RequestURI = req.URL.RequestURI()
	rec := &inproc.Recorder{Limit: maxBody * 4}
	t.h.ServeHTTP(rec, r)
	if req.Body != nil {
		_ = req.Body.Close()
	}
	if rec.Status == 0 && rec.Body.Len() == 0 {
		if err := req.Context().Err(); err != nil {
			return nil, err
		}
		rec.Status = http.StatusOK
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", rec.Status, http.StatusText(rec.Status)), StatusCode: rec.Status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.Header(), Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		ContentLength: int64(rec.Body.Len()), Request: req,
	}, nil
}
