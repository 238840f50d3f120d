package emulator

import (
	"strings"
)

// $apply, the OData aggregation Dataverse supports, over the FetchXML
// aggregate engine:
//
//	$apply=aggregate(revenue with sum as total, $count as n)
//	$apply=groupby((statecode,statuscode))
//	$apply=groupby((statecode),aggregate($count as n, revenue with average as mean))
//	$apply=filter(statecode eq 0)/groupby((statuscode),aggregate($count as n))
//
// Methods: sum, average, min, max, countdistinct, and $count. Other
// transformations (compute, top, …) are refused by name. $apply takes no
// other query option except $orderby on its aliases.

// parseApply compiles an $apply value into an aggregate fetchQuery.
func parseApply(ent *entity, value string, ctx filterContext) (*fetchQuery, *dvError) {
	q := &fetchQuery{ent: ent, aggregate: true, page: 1}
	steps := splitTop(strings.TrimSpace(value), '/')
	for i, step := range steps {
		step = strings.TrimSpace(step)
		name, args, ok := strings.Cut(step, "(")
		args, closed := strings.CutSuffix(args, ")")
		if !ok || !closed {
			return nil, errSyntax("$apply: '%s' must be a transformation like groupby((col),aggregate($count as n)).", step)
		}
		switch strings.TrimSpace(name) {
		case "filter":
			if i != 0 {
				return nil, errNotImplemented("$apply filter() after another transformation")
			}
			f, derr := parseFilterCtx(ent, args, ctx)
			if derr != nil {
				return nil, derr
			}
			q.filter = f
		case "groupby":
			if i != len(steps)-1 {
				return nil, errNotImplemented("$apply transformations after groupby()")
			}
			parts := splitTop(args, ',')
			cols, ok := strings.CutPrefix(strings.TrimSpace(parts[0]), "(")
			cols, closed := strings.CutSuffix(cols, ")")
			if !ok || !closed {
				return nil, errSyntax("$apply: groupby needs its columns in parentheses, like groupby((statecode)).")
			}
			for _, c := range strings.Split(cols, ",") {
				c = strings.TrimSpace(c)
				col, derr := applyColumn(ent, c)
				if derr != nil {
					return nil, derr
				}
				q.cols = append(q.cols, fetchCol{col: col, key: col, groupby: true})
			}
			for _, p := range parts[1:] {
				p = strings.TrimSpace(p)
				inner, ok := strings.CutPrefix(p, "aggregate(")
				inner, closed := strings.CutSuffix(inner, ")")
				if !ok || !closed {
					return nil, errNotImplemented("'%s' inside groupby (it implements aggregate(…))", p)
				}
				if derr := q.addAggregates(inner); derr != nil {
					return nil, derr
				}
			}
		case "aggregate":
			if i != len(steps)-1 {
				return nil, errNotImplemented("$apply transformations after aggregate()")
			}
			if derr := q.addAggregates(args); derr != nil {
				return nil, derr
			}
		default:
			return nil, errNotImplemented("the $apply transformation '%s' (it implements filter, groupby and aggregate)", strings.TrimSpace(name))
		}
	}
	if len(q.cols) == 0 {
		return nil, errSyntax("$apply needs groupby or aggregate.")
	}
	return q, nil
}

// addAggregates reads "col with method as alias, $count as alias".
func (q *fetchQuery) addAggregates(list string) *dvError {
	for _, item := range splitTop(list, ',') {
		f := strings.Fields(item)
		switch {
		case len(f) == 3 && f[0] == "$count" && f[1] == "as":
			q.cols = append(q.cols, fetchCol{col: q.ent.PrimaryIDAttribute, key: f[2], aggregate: "count"})
		case len(f) == 5 && f[1] == "with" && f[3] == "as":
			col, derr := applyColumn(q.ent, f[0])
			if derr != nil {
				return derr
			}
			method := map[string]string{"sum": "sum", "average": "avg", "min": "min", "max": "max", "countdistinct": "countdistinct"}[f[2]]
			if method == "" {
				return errSyntax("$apply: aggregation method '%s' must be sum, average, min, max or countdistinct.", f[2])
			}
			q.cols = append(q.cols, fetchCol{col: col, key: f[4], aggregate: method})
		default:
			return errSyntax("$apply: '%s' must be '<column> with <method> as <alias>' or '$count as <alias>'.", strings.TrimSpace(item))
		}
	}
	return nil
}

func applyColumn(ent *entity, c string) (string, *dvError) {
	if ent.columns[c] {
		return c, nil
	}
	return "", errUnknownProperty(c, ent.LogicalName)
}
