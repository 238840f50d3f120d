package dataverse

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cifbridge/cifbridge/protocol"
)

// MaxSearchRecords caps what one cif.search or cif.searchandopenrecords
// collects across pages: CIF's cap (protocol.MaxSearchRecords), which is
// also Dataverse's default page, so a query without $top reads at most one
// default page's worth. A larger $top is cut to it.
const MaxSearchRecords = protocol.MaxSearchRecords

// maxPages bounds the nextLinks followed for one search, whatever the page
// size the org chooses (a page of one record would otherwise mean 5000
// requests).
const maxPages = 100

// collect runs a collection query and follows @odata.nextLink until it has
// the query's $top records (MaxSearchRecords without $top), the org has no
// more, or maxPages pages were read. Config.PageSize, when set, asks for
// pages of that size (Prefer: odata.maxpagesize). A nextLink must point
// under this org's Web API: the bearer token is never sent elsewhere.
func (b *Backend) collect(ctx context.Context, a attempt, d entityDef, query string) ([]json.RawMessage, error) {
	limit := MaxSearchRecords
	if top, ok := queryTop(query); ok && top < limit {
		limit = top
	}
	var header map[string]string
	if b.cfg.PageSize > 0 {
		header = map[string]string{"Prefer": "odata.maxpagesize=" + strconv.Itoa(b.cfg.PageSize)}
	}
	r := request{method: http.MethodGet, path: d.EntitySetName, query: escapeQuery(query), header: header}
	var recs []json.RawMessage
	for pages := 1; ; pages++ {
		res, err := b.do(ctx, a, r)
		if err != nil {
			return nil, err
		}
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(res.body, &page); err != nil {
			return nil, protocol.Errorf(protocol.CodeBackend, "dataverse: decode the %s collection: %v", d.EntitySetName, err)
		}
		recs = append(recs, page.Value...)
		if len(recs) >= limit {
			return recs[:limit], nil
		}
		if page.NextLink == "" {
			return recs, nil
		}
		if pages == maxPages {
			b.log.Warn().Str("set", d.EntitySetName).Int("records", len(recs)).Int("pages", pages).
				Msg("dataverse search stopped after the page limit: the answer holds the records read so far")
			return recs, nil
		}
		if r.path, r.query, err = b.nextLink(page.NextLink); err != nil {
			return nil, err
		}
	}
}

// nextLink splits an @odata.nextLink into a request path and query under
// the Web API root, refusing links to another origin or path.
func (b *Backend) nextLink(link string) (path, query string, err error) {
	u, perr := url.Parse(link)
	rest, under := "", false
	if perr == nil && u.Scheme == b.org.Scheme && u.Host == b.org.Host {
		rest, under = strings.CutPrefix(u.EscapedPath(), strings.TrimPrefix(b.api, b.org.Scheme+"://"+b.org.Host))
	}
	if !under || rest == "" {
		return "", "", protocol.Errorf(protocol.CodeBackend, "dataverse: the @odata.nextLink does not point under %s: not followed", b.api)
	}
	return rest, u.RawQuery, nil
}

// queryTop reads $top from a CIF query string.
func queryTop(q string) (int, bool) {
	for _, part := range strings.Split(strings.TrimPrefix(strings.TrimSpace(q), "?"), "&") {
		if v, ok := strings.CutPrefix(part, "$top="); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			return n, err == nil && n >= 0
		}
	}
	return 0, false
}
