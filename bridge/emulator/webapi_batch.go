package emulator

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"iter"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cifbridge/cifbridge/internal/inproc"
)

// POST $batch (multipart/mixed), as Dataverse runs it:
//
//   - each part is one request (Content-Type: application/http) or a change
//     set (a nested multipart/mixed of requests);
//   - requests run in order; by default the batch stops at the first
//     failed request (Prefer: odata.continue-on-error runs the rest);
//   - a change set is atomic: when one of its requests fails, the ones
//     before it are rolled back and the response holds only the failed
//     request's answer; "$<Content-ID>" at the start of a later request's
//     URL in the same change set stands for the entity the request with
//     that Content-ID created, and so does "$<Content-ID>" as an
//     @odata.bind value;
//   - the answer is 200 multipart/mixed with one application/http part per
//     request (a nested changesetresponse for a change set that succeeded).
//
// A rollback restores the emulator's tables as they were before the change
// set: writes other clients made meanwhile are rolled back too (the
// emulator has no transactions).

const (
	maxBatchBytes    = 16 << 20
	maxBatchRequests = 1000
)

type batchRequest struct {
	contentID string
	method    string
	target    string
	header    http.Header
	body      []byte
}

type batchPart struct {
	changeset []batchRequest // a change set
	single    *batchRequest
}

type batchAnswer struct {
	contentID string
	status    int
	header    http.Header
	body      []byte
}

// webBatch serves POST $batch.
func (e *Emulator) webBatch(wr *webReq) {
	if !wr.allow(http.MethodPost) {
		return
	}
	mt, params, err := mime.ParseMediaType(wr.r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		wr.fail(errSyntax("A $batch request needs Content-Type: multipart/mixed; boundary=batch_<id>."))
		return
	}
	parts, derr := readBatch(io.LimitReader(wr.r.Body, maxBatchBytes), params["boundary"])
	if derr != nil {
		wr.fail(derr)
		return
	}
	continueOnError := strings.Contains(wr.r.Header.Get("Prefer"), "odata.continue-on-error")
	boundary := "batchresponse_" + stableGUID(params["boundary"])
	var out bytes.Buffer
	mw := multipart.NewWriter(&out)
	_ = mw.SetBoundary(boundary)
	for _, p := range parts {
		var answers []batchAnswer
		failed := false
		if p.single != nil {
			a := e.runBatchRequest(wr, *p.single, nil)
			answers, failed = []batchAnswer{a}, a.status >= 400
		} else {
			answers, failed = e.runChangeset(wr, p.changeset)
		}
		if p.single == nil && !failed {
			writeChangeset(mw, answers, boundary)
		} else {
			for _, a := range answers {
				writeAnswer(mw, a)
			}
		}
		if failed && !continueOnError {
			break
		}
	}
	_ = mw.Close()
	wr.w.Header().Set("Content-Type", "multipart/mixed; boundary="+boundary)
	wr.w.WriteHeader(http.StatusOK)
	_, _ = wr.w.Write(out.Bytes())
}

// runChangeset runs a change set atomically; on a failure it returns only
// the failed request's answer.
func (e *Emulator) runChangeset(wr *webReq, reqs []batchRequest) ([]batchAnswer, bool) {
	snap := e.snapshot()
	refs := map[string]string{}
	var answers []batchAnswer
	for _, r := range reqs {
		a := e.runBatchRequest(wr, r, refs)
		if a.status >= 400 {
			e.restore(snap)
			return []batchAnswer{a}, true
		}
		if r.contentID != "" {
			if loc := a.header.Get("OData-EntityId"); loc != "" {
				refs[r.contentID] = loc
			}
		}
		answers = append(answers, a)
	}
	return answers, false
}

// runBatchRequest runs one request through the Web API face.
func (e *Emulator) runBatchRequest(wr *webReq, br batchRequest, refs map[string]string) batchAnswer {
	target := br.target
	if strings.HasPrefix(target, "$") {
		id, rest, _ := strings.Cut(target[1:], "/")
		loc, ok := refs[id]
		if !ok {
			return errAnswer(br.contentID, errSyntax("'$%s' names no earlier request of this change set with Content-ID %s.", id, id))
		}
		target = loc
		if rest != "" {
			target += "/" + rest
		}
	}
	body := br.body
	for id, loc := range refs { // "<nav>@odata.bind": "$1" names an entity of the change set
		body = bytes.ReplaceAll(body, []byte(`"$`+id+`"`), []byte(strconv.Quote(loc)))
	}
	u, err := url.Parse(target)
	if err != nil {
		return errAnswer(br.contentID, errSyntax("The batch request URL '%s' is not valid: %v", br.target, err))
	}
	if !u.IsAbs() {
		u = wr.r.URL.ResolveReference(u)
		if !strings.HasPrefix(u.Path, WebAPIPrefix) {
			u.Path = WebAPIPrefix + strings.TrimPrefix(target, "/")
		}
	}
	if strings.Trim(strings.TrimPrefix(u.Path, WebAPIPrefix), "/") == "$batch" {
		return errAnswer(br.contentID, errSyntax("A $batch request cannot hold another $batch."))
	}
	req, err := http.NewRequestWithContext(wr.r.Context(), br.method, u.String(), bytes.NewReader(body))
	if err != nil {
		return errAnswer(br.contentID, errSyntax("The batch request '%s %s' is not valid: %v", br.method, br.target, err))
	}
	req.Header = br.header
	req.Host = wr.r.Host
	var rec inproc.Recorder
	e.serveWebAPI(&rec, req)
	rec.WriteHeader(http.StatusOK) // a part that wrote nothing answered 200
	return batchAnswer{contentID: br.contentID, status: rec.Status, header: rec.Header(), body: rec.Body.Bytes()}
}

func errAnswer(contentID string, d *dvError) batchAnswer {
	body := fmt.Sprintf(`{"error":{"code":%q,"message":%q}}`, d.Code, d.Message)
	h := http.Header{"Content-Type": {"application/json; odata.metadata=minimal"}}
	return batchAnswer{contentID: contentID, status: d.Status, header: h, body: []byte(body)}
}

// dataverseSpelling maps Go's canonical form of a header name to the one
// Dataverse writes. Inside a $batch answer headers are text the client
// reads itself, and Dataverse's samples match them as written.
var dataverseSpelling = map[string]string{"Odata-Entityid": "OData-EntityId", "Odata-Version": "OData-Version", "Etag": "ETag"}

func writeAnswer(mw *multipart.Writer, a batchAnswer) {
	h := textproto.MIMEHeader{"Content-Type": {"application/http"}, "Content-Transfer-Encoding": {"binary"}}
	if a.contentID != "" {
		h["Content-ID"] = []string{a.contentID} // as written: Set would make it Content-Id
	}
	w, _ := mw.CreatePart(h)
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", a.status, http.StatusText(a.status))
	for _, k := range slices.Sorted(maps.Keys(a.header)) {
		name := k
		if n, ok := dataverseSpelling[k]; ok {
			name = n
		}
		for _, v := range a.header[k] {
			fmt.Fprintf(w, "%s: %s\r\n", name, v)
		}
	}
	fmt.Fprint(w, "\r\n")
	_, _ = w.Write(a.body)
}

func writeChangeset(mw *multipart.Writer, answers []batchAnswer, batchBoundary string) {
	var inner bytes.Buffer
	cw := multipart.NewWriter(&inner)
	_ = cw.SetBoundary("changesetresponse_" + strings.TrimPrefix(batchBoundary, "batchresponse_") + "_" + strconv.Itoa(len(answers)))
	for _, a := range answers {
		writeAnswer(cw, a)
	}
	_ = cw.Close()
	w, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/mixed; boundary=" + cw.Boundary()}})
	_, _ = w.Write(inner.Bytes())
}

// readBatch parses the parts of a batch body.
func readBatch(r io.Reader, boundary string) ([]batchPart, *dvError) {
	var parts []batchPart
	n := 0
	for p, err := range partsOf(multipart.NewReader(r, boundary)) {
		if err != nil {
			return nil, errSyntax("The $batch body is not valid multipart/mixed: %v", err)
		}
		mt, params, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch mt {
		case "multipart/mixed":
			var cs []batchRequest
			for q, err := range partsOf(multipart.NewReader(p, params["boundary"])) {
				if err != nil {
					return nil, errSyntax("A $batch change set is not valid multipart/mixed: %v", err)
				}
				br, derr := readBatchRequest(q)
				if derr != nil {
					return nil, derr
				}
				if br.method == http.MethodGet {
					return nil, errSyntax("A change set may not hold a GET request: put it outside the change set.")
				}
				cs = append(cs, br)
				if n++; n > maxBatchRequests {
					return nil, errSyntax("A $batch holds at most %d requests.", maxBatchRequests)
				}
			}
			parts = append(parts, batchPart{changeset: cs})
		case "application/http":
			br, derr := readBatchRequest(p)
			if derr != nil {
				return nil, derr
			}
			parts = append(parts, batchPart{single: &br})
			if n++; n > maxBatchRequests {
				return nil, errSyntax("A $batch holds at most %d requests.", maxBatchRequests)
			}
		default:
			return nil, errSyntax("A $batch part must be application/http or a multipart/mixed change set, got '%s'.", p.Header.Get("Content-Type"))
		}
	}
	if len(parts) == 0 {
		return nil, errSyntax("The $batch body holds no requests.")
	}
	return parts, nil
}

// partsOf yields the parts of a multipart body, then its read error, if
// any, with a nil part.
func partsOf(mr *multipart.Reader) iter.Seq2[*multipart.Part, error] {
	return func(yield func(*multipart.Part, error) bool) {
		for {
			p, err := mr.NextPart()
			if err == io.EOF || !yield(p, err) || err != nil {
				return
			}
		}
	}
}

// readBatchRequest reads "METHOD URL HTTP/1.1", headers and body.
func readBatchRequest(p *multipart.Part) (batchRequest, *dvError) {
	br := batchRequest{contentID: p.Header.Get("Content-ID")}
	tp := textproto.NewReader(bufio.NewReader(p))
	line, err := tp.ReadLine()
	if err != nil {
		return br, errSyntax("A $batch request part is empty.")
	}
	f := strings.Fields(line)
	if len(f) != 3 || !strings.HasPrefix(f[2], "HTTP/") {
		return br, errSyntax("A $batch request must start with 'METHOD URL HTTP/1.1', got '%s'.", line)
	}
	br.method, br.target = f[0], f[1]
	h, err := tp.ReadMIMEHeader()
	if err != nil && err != io.EOF {
		return br, errSyntax("The headers of the $batch request '%s' are not valid: %v", line, err)
	}
	br.header = http.Header(h)
	if br.header == nil {
		br.header = http.Header{}
	}
	body, err := io.ReadAll(tp.R)
	if err != nil {
		return br, errSyntax("The body of the $batch request '%s' cannot be read: %v", line, err)
	}
	br.body = bytes.TrimRight(body, "\r\n")
	return br, nil
}

// storeSnapshot is the store as it was before a change set.
type storeSnapshot struct {
	tables  map[string]*recTable
	s       store
	order   []queued
	evicted map[string]int64
}

func (e *Emulator) snapshot() storeSnapshot {
	// The write lock: readers mark the queue's entries (store.markUsed),
	// which the clone below reads.
	e.mu.Lock()
	defer e.mu.Unlock()
	snap := storeSnapshot{tables: map[string]*recTable{}, s: e.store, order: slices.Clone(e.store.order), evicted: maps.Clone(e.store.evicted)}
	for name, t := range e.store.tables {
		snap.tables[name] = t.clone()
	}
	return snap
}

func (e *Emulator) restore(snap storeSnapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// A record read since the snapshot keeps its mark (its second chance)
	// when the rollback keeps it: the queue comes back as it was.
	type mark struct {
		table string
		r     *record
	}
	var marks []mark
	for _, q := range e.store.order[e.store.head:] {
		if q.live && q.used != 0 {
			table := e.store.names[q.table]
			marks = append(marks, mark{table, e.store.tables[table].get(q.id)})
		}
	}
	version := e.store.version // row versions only grow, also across a rollback
	e.store = snap.s
	e.store.version = version
	e.store.order, e.store.evicted = snap.order, snap.evicted
	e.store.tables = map[string]*recTable{}
	for name, t := range snap.tables {
		e.store.tables[name] = t
	}
	e.store.requeued() // records stored since may have moved their entries
	for _, m := range marks {
		if e.store.tables[m.table].get(m.r.id) == m.r {
			e.store.markUsed(m.r)
		}
	}
}
