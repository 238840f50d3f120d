package enreach

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/cifbridge/cifbridge/protocol"
)

// allowedMethods are the HTTP methods executeQuery may use.
var allowedMethods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true,
}

// ExecuteQuery serves enreach.executeQuery. token is the session's Enreach
// token ("" for Basic auth).
func (c *Client) ExecuteQuery(ctx context.Context, token string, params json.RawMessage) (json.RawMessage, error) {
	var p protocol.ExecuteQueryParams
	if err := protocol.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	path, rawQuery, err := checkQuery(p.Query)
	if err != nil {
		return nil, err
	}
	post := bytes.TrimSpace(p.PostData)
	hasBody := len(post) > 0 && string(post) != "null"
	method := http.MethodGet
	if hasBody {
		method = http.MethodPost
	}
	if p.Method != "" {
		method = strings.ToUpper(strings.TrimSpace(p.Method))
		if !allowedMethods[method] {
			return nil, protocol.InvalidParams("\"method\" must be GET, POST, PUT, PATCH or DELETE, got %q", p.Method)
		}
	}
	var body []byte
	if hasBody {
		if method == http.MethodGet {
			return nil, protocol.InvalidParams("\"postData\" cannot be sent with method GET: leave it null or use POST, PUT, PATCH or DELETE")
		}
		body = post
	}
	return c.do(ctx, token, method, path, rawQuery, body)
}

// checkQuery accepts a path relative to the API root ("users/me",
// "/calls?StartTime=…") and returns its escaped path (with a leading "/")
// and raw query. It refuses anything that could leave the API root.
func checkQuery(q string) (path, rawQuery string, err error) {
	if strings.TrimSpace(q) == "" {
		return "", "", protocol.InvalidParams("\"query\" is blank: give a path within the Enreach API, e.g. \"/users/me\"")
	}
	for _, r := range q {
		if r < 0x20 || r == 0x7f {
			return "", "", protocol.InvalidParams("\"query\" must not contain control characters (CR, LF, …)")
		}
	}
	if strings.Contains(q, `\`) {
		return "", "", protocol.InvalidParams("\"query\" must not contain a backslash")
	}
	if strings.HasPrefix(q, "//") {
		return "", "", protocol.InvalidParams("\"query\" must be a relative path, not a host (%q starts with //)", q)
	}
	p, rawQuery, _ := strings.Cut(q, "?")
	if i := strings.IndexAny(p, ":/"); i >= 0 && p[i] == ':' {
		return "", "", protocol.InvalidParams("\"query\" must be a relative path without a scheme, got %q", q)
	}
	if strings.Contains(p, "#") || strings.Contains(rawQuery, "#") {
		return "", "", protocol.InvalidParams("\"query\" must not contain a fragment (#)")
	}
	dec, uerr := url.PathUnescape(p)
	if uerr != nil {
		return "", "", protocol.InvalidParams("\"query\" has a bad escape: %v", uerr)
	}
	for _, s := range []string{p, dec} {
		for _, seg := range strings.Split(s, "/") {
			if seg == ".." {
				return "", "", protocol.InvalidParams("\"query\" must not contain \"..\" segments")
			}
		}
		if strings.Contains(s, `\`) {
			return "", "", protocol.InvalidParams("\"query\" must not contain a backslash")
		}
	}
	if strings.Contains(dec, "//") {
		return "", "", protocol.InvalidParams("\"query\" must not contain an empty path segment (//)")
	}
	rawQuery = escapeQuery(rawQuery)
	if _, err := url.ParseQuery(rawQuery); err != nil {
		return "", "", protocol.InvalidParams("\"query\" has a bad query string: %v", err)
	}
	return "/" + strings.TrimLeft(dec, "/"), rawQuery, nil
}

// SetANumber serves enreach.setANumber: it finds the user's id with
// GET /users/me (cached per credential) and activates the number for the
// next call with POST /users/{userId}/features/cli/activate/.
func (c *Client) SetANumber(ctx context.Context, token string, params json.RawMessage) (json.RawMessage, error) {
	var p protocol.SetANumberParams
	if err := protocol.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	n := strings.TrimSpace(p.ANumber)
	if !validANumber(n) {
		return nil, protocol.InvalidParams("\"aNumber\" must be a phone number like +358401234567 (an optional + and 3–15 digits), got %q", p.ANumber)
	}
	id, err := c.userID(ctx, token)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, token, http.MethodPost, "/users/"+url.PathEscape(id)+"/features/cli/activate/", "", []byte(fillTemplate(c.cfg.ANumberBody, n)))
}

func validANumber(n string) bool {
	d := strings.TrimPrefix(n, "+")
	if len(d) < 3 || len(d) > 15 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

// userID returns the Id of GET /users/me for the credential in use,
// fetching it once per credential.
func (c *Client) userID(ctx context.Context, token string) (string, error) {
	_, key := c.auth(token)
	c.mu.Lock()
	u := c.users[key]
	if u == nil {
		u = &userID{}
		c.users[key] = u
	}
	c.mu.Unlock()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.id != "" {
		return u.id, nil
	}
	body, err := c.do(ctx, token, http.MethodGet, "/users/me", "", nil)
	if err != nil {
		return "", err
	}
	var me struct {
		ID json.RawMessage `json:"Id"`
	}
	_ = json.Unmarshal(body, &me)
	var id string
	if json.Unmarshal(me.ID, &id) != nil { // a numeric id is fine too
		id = strings.Trim(string(bytes.TrimSpace(me.ID)), `"`)
	}
	if id == "" || id == "null" {
		return "", protocol.NewError(protocol.CodeUpstream, "enreach upstream: GET /users/me answered without an Id", protocol.UpstreamErrorData{Status: http.StatusOK, Body: errorBody(body)})
	}
	u.id = id
	c.log.Debug().Msg("enreach user id cached")
	return id, nil
}

// escapeQuery percent-encodes the bytes a query string may not carry raw
// (RFC 3986 §3.4: spaces, quotes, <, >, non-ASCII, …), keeping existing
// escapes, so that a widget's "?name=Aino Virtanen" reaches the upstream as
// name=Aino%20Virtanen and never splits the HTTP request line.
func escapeQuery(q string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		if queryChar(c) {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, len(q)+8), q[:i]...)
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	if b == nil {
		return q
	}
	return string(b)
}

// queryChar reports whether c may appear raw in a URL query: unreserved,
// sub-delims, ':', '@', '/', '?' and '%' (an escape already there).
func queryChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/?%", c) >= 0
}
