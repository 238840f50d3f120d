package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Server-driven paging of the Web API face, as Dataverse pages a
// collection GET:
//
//   - A page holds at most 5000 records (maxTop), or fewer when the request
//     says "Prefer: odata.maxpagesize=N"; a larger N is ignored, as Dataverse
//     ignores it, and an N that is not a positive integer is a 400.
//   - When more records match, the page carries "@odata.nextLink": the same
//     URL with a "$skiptoken" added. Following it (with the same Prefer
//     header) returns the next page; the last page has no nextLink. The
//     response says "Preference-Applied: odata.maxpagesize=N".
//   - $top limits the whole result: pages are cut from the first $top
//     records, so a $top larger than the page size is still paged (an OData
//     server may page any response; the dataverse backend follows the links
//     until it has $top records either way).
//
// The skiptoken is a Dataverse-like cookie, <cookie pagenumber="2"
// offset="5" istracking="False" />, URL-encoded. The emulator pages by
// offset over the ordered result, so a record created between two page
// requests may shift what the next page holds (Dataverse's paging cookie is
// keyed by the last record instead).

// page is where a collection GET starts and how much it returns.
type page struct {
	number int // 1 for the first page
	offset int // records skipped
}

// cutSkipToken removes $skiptoken from a raw query string and parses it.
func cutSkipToken(raw string) (string, page, *dvError) {
	pg := page{number: 1}
	var kept []string
	for _, part := range strings.Split(raw, "&") {
		name, value, _ := strings.Cut(part, "=")
		if unescape(name) != "$skiptoken" {
			if part != "" {
				kept = append(kept, part)
			}
			continue
		}
		cookie, err := url.QueryUnescape(value)
		if err != nil {
			cookie = value
		}
		var derr *dvError
		if pg, derr = parseCookie(cookie); derr != nil {
			return "", pg, derr
		}
	}
	return strings.Join(kept, "&"), pg, nil
}

func parseCookie(c string) (page, *dvError) {
	bad := errSyntax("The $skiptoken '%s' is not valid: follow the @odata.nextLink of the previous page as it is.", c)
	attr := func(name string) (int, bool) {
		_, v, ok := strings.Cut(c, " "+name+`="`)
		if !ok {
			return 0, false
		}
		v, _, ok = strings.Cut(v, `"`)
		n, err := strconv.Atoi(v)
		return n, ok && err == nil && n >= 0
	}
	if !strings.HasPrefix(c, "<cookie ") || !strings.HasSuffix(c, "/>") {
		return page{}, bad
	}
	number, ok1 := attr("pagenumber")
	offset, ok2 := attr("offset")
	if !ok1 || !ok2 || number < 2 {
		return page{}, bad
	}
	return page{number: number, offset: offset}, nil
}

func (pg page) next(size int) string {
	return fmt.Sprintf(`<cookie pagenumber="%d" offset="%d" istracking="False" />`, pg.number+1, pg.offset+size)
}

// maxPageSize reads odata.maxpagesize from the Prefer header: 0 when absent.
func maxPageSize(prefer string) (int, *dvError) {
	for _, p := range strings.Split(prefer, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(p), "odata.maxpagesize=")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(v), `"`))
		if err != nil || n <= 0 {
			return 0, errSyntax("The Prefer header's odata.maxpagesize must be a positive integer, got '%s'.", v)
		}
		return n, nil
	}
	return 0, nil
}

// webSearch answers a collection GET with one page of the result.
// rawQuery is the request's query without $skiptoken.
func (e *Emulator) webSearch(wr *webReq, ent *entity, q *query, rawQuery string, pg page) {
	asked, derr := maxPageSize(wr.r.Header.Get("Prefer"))
	if derr != nil {
		wr.fail(derr)
		return
	}
	size := maxTop
	if asked > 0 && asked < maxTop {
		size = asked
	}
	if !e.webGate(wr, "search", ent.LogicalName) {
		return
	}
	if q.apply != nil {
		res, derr := e.runFetch(q.apply)
		e.completed("search", time.Time{})
		if derr != nil {
			wr.fail(derr)
			return
		}
		wr.json(http.StatusOK, map[string]any{"@odata.context": wr.base + "$metadata#" + ent.EntitySetName, "value": res.rows})
		return
	}
	recs := e.search(ent, q, 0) // paged, not capped
	e.completed("search", time.Time{})
	start := min(pg.offset, len(recs))
	end := min(start+size, len(recs))
	out := map[string]any{"@odata.context": wr.base + "$metadata#" + q.contextPath(ent.EntitySetName), "value": recs[start:end]}
	if q.count {
		out["@odata.count"] = min(len(recs), maxTop) // Dataverse counts at most 5000
	}
	if end < len(recs) {
		link := wr.base + ent.EntitySetName + "?"
		if rawQuery != "" {
			link += rawQuery + "&"
		}
		out["@odata.nextLink"] = link + "$skiptoken=" + strings.ReplaceAll(url.QueryEscape(pg.next(size)), "+", "%20")
	}
	if asked > 0 && asked == size {
		wr.w.Header().Add("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(size))
	}
	wr.json(http.StatusOK, out)
}
