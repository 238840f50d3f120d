package protocol

import (
	"net/url"
	"strings"
)

// CutSearch removes $search from the query string of a CIF search
// (searchAndOpenRecords, "?$select=fullname&$search=Ada"): CIF uses its
// value only as the text of the search page it opens when the result is not
// exactly one record, and takes the records from the rest of the query. The
// Web API itself refuses $search on an entity set, so every backend cuts it
// before running the query. A leading "?" is kept; parts are split on "&"
// outside quotes and parentheses; a name may be percent-encoded (%24search).
func CutSearch(qs string) string {
	if !strings.Contains(qs, "search") {
		return qs
	}
	trimmed := strings.TrimSpace(qs)
	lead := ""
	if strings.HasPrefix(trimmed, "?") {
		lead = "?"
	}
	var kept []string
	for _, part := range SplitTop(strings.TrimPrefix(trimmed, "?"), '&') {
		name, _, _ := strings.Cut(part, "=")
		if u, err := url.PathUnescape(name); err == nil {
			name = u
		}
		if name != "$search" {
			kept = append(kept, part)
		}
	}
	return lead + strings.Join(kept, "&")
}

// SplitTop splits s on sep outside single quotes and parentheses: a query
// string into its options on '&' (a $filter literal or a nested $expand may
// hold one), an option's list on ',' or ';'.
func SplitTop(s string, sep byte) []string {
	var parts []string
	depth, inQuote, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			if depth > 0 {
				depth--
			}
		case c == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}
