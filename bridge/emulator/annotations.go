package emulator

import (
	"slices"
	"strconv"
	"strings"
)

// Prefer: odata.include-annotations on the Web API face. "*" (or the names
// themselves) adds, for each returned column:
//
//   - OData.Community.Display.V1.FormattedValue: a lookup's primary name; a
//     choice's label (statecode, statuscode, prioritycode, caseorigincode of
//     the built-in tables); a boolean's label (Yes/No, directioncode
//     Outgoing/Incoming); numbers, money and dates formatted as Dataverse
//     formats them for the emulator's user (en-US, LCID 1033, UTC, money in
//     US dollars);
//   - Microsoft.Dynamics.CRM.lookuplogicalname and
//     Microsoft.Dynamics.CRM.associatednavigationproperty on _x_value
//     lookup columns.
//
// Text columns have no formatted value, as on Dataverse. Annotations not
// listed are not produced (so a client that asks for another one gets none,
// as from an org that has none to give).

const (
	annFormatted = "OData.Community.Display.V1.FormattedValue"
	annLogical   = "Microsoft.Dynamics.CRM.lookuplogicalname"
	annNav       = "Microsoft.Dynamics.CRM.associatednavigationproperty"
)

// annotations says which annotations a request asked for.
type annotations struct {
	formatted, lookup bool
	header            string // the preference as given, for Preference-Applied
}

// parseAnnotations reads odata.include-annotations from a Prefer header.
func parseAnnotations(prefer string) annotations {
	for _, p := range splitPrefer(prefer) {
		v, ok := strings.CutPrefix(strings.TrimSpace(p), "odata.include-annotations=")
		if !ok {
			continue
		}
		a := annotations{header: "odata.include-annotations=" + v}
		for _, name := range strings.Split(strings.Trim(v, `"`), ",") {
			name = strings.TrimSpace(name)
			switch {
			case name == "*":
				a.formatted, a.lookup = true, true
			case name == annFormatted || name == "OData.Community.Display.V1.*":
				a.formatted = true
			case name == annLogical || name == annNav || name == "Microsoft.Dynamics.CRM.*":
				a.lookup = true
			}
		}
		return a
	}
	return annotations{}
}

// choiceLabels are the labels of the built-in choice columns (en-US).
var choiceLabels = map[string]map[string]map[int]string{
	"account": {"statecode": {0: "Active", 1: "Inactive"}, "statuscode": {1: "Active", 2: "Inactive"}},
	"contact": {"statecode": {0: "Active", 1: "Inactive"}, "statuscode": {1: "Active", 2: "Inactive"}},
	"incident": {"statecode": {0: "Active", 1: "Resolved", 2: "Canceled"},
		"statuscode":     {1: "In Progress", 2: "On Hold", 3: "Waiting for Details", 4: "Researching", 5: "Problem Solved", 1000: "Information Provided", 6: "Cancelled", 2000: "Merged"},
		"prioritycode":   {1: "High", 2: "Normal", 3: "Low"},
		"caseorigincode": {1: "Phone", 2: "Email", 3: "Web", 2483: "Facebook", 3986: "Twitter", 700: "IoT"}},
	"lead": {"statecode": {0: "Open", 1: "Qualified", 2: "Disqualified"},
		"statuscode": {1: "New", 2: "Contacted", 3: "Qualified", 4: "Lost", 5: "Cannot Contact", 6: "No Longer Interested", 7: "Canceled"}},
	"phonecall": {"statecode": {0: "Open", 1: "Completed", 2: "Canceled"}, "statuscode": {1: "Open", 2: "Made", 3: "Canceled", 4: "Received"}},
	"task": {"statecode": {0: "Open", 1: "Completed", 2: "Canceled"},
		"statuscode":   {2: "Not Started", 3: "In Progress", 4: "Waiting on someone else", 5: "Completed", 6: "Canceled", 7: "Deferred"},
		"prioritycode": {0: "Low", 1: "Normal", 2: "High"}},
}

// annotate adds the asked-for annotations to out, the view of r. Called
// with mu held (read).
func (e *Emulator) annotate(ent *entity, r *record, out map[string]any, a annotations) {
	if !a.formatted && !a.lookup {
		return
	}
	for key, v := range out {
		if v == nil || strings.HasPrefix(key, "@") || strings.Contains(key, "@") {
			continue
		}
		if slices.Contains(systemUserCols, key) { // the emulator's user
			nav := strings.TrimSuffix(strings.TrimPrefix(key, "_"), "_value")
			if a.lookup {
				out[key+"@"+annLogical] = "systemuser"
				out[key+"@"+annNav] = nav
			}
			if name, ok := e.env["username"].(string); a.formatted && ok && name != "" {
				out[key+"@"+annFormatted] = name
			}
			continue
		}
		if l, ok := lookupOfValueCol(ent, key); ok {
			target := r.targets.str(l)
			if a.lookup && target != "" {
				out[key+"@"+annLogical] = target
				out[key+"@"+annNav] = ent.navProperty(l, target)
			}
			if a.formatted && target != "" {
				if tr := e.store.get(target, valueString(v)); tr != nil {
					if tent := e.cat.byLogical[target]; tent != nil && tent.PrimaryNameAttribute != "" {
						if name := tr.fields.str(tent.PrimaryNameAttribute); name != "" {
							out[key+"@"+annFormatted] = name
						}
					}
				}
			}
			continue
		}
		if a.formatted {
			if f := formatValue(ent, key, v); f != "" {
				out[key+"@"+annFormatted] = f
			}
		}
	}
}

// lookupOfValueCol returns the lookup whose _x_value column key is.
func lookupOfValueCol(ent *entity, key string) (string, bool) {
	name, ok := strings.CutPrefix(key, "_")
	if !ok {
		return "", false
	}
	name, ok = strings.CutSuffix(name, "_value")
	if !ok {
		return "", false
	}
	_, isLookup := ent.Lookups[name]
	return name, isLookup
}

// formatValue is a column's FormattedValue, "" for none.
func formatValue(ent *entity, col string, v any) string {
	switch ent.attributeType(col) {
	case "Boolean":
		b, _ := v.(bool)
		if col == "directioncode" {
			return map[bool]string{true: "Outgoing", false: "Incoming"}[b]
		}
		return map[bool]string{true: "Yes", false: "No"}[b]
	case "Picklist", "State", "Status":
		n, err := strconv.Atoi(valueString(v))
		if err != nil {
			return ""
		}
		return choiceLabels[ent.LogicalName][col][n]
	case "Integer":
		f, err := strconv.ParseFloat(valueString(v), 64)
		if err != nil {
			return ""
		}
		return groupThousands(strconv.FormatFloat(f, 'f', 0, 64))
	case "Money":
		f, err := strconv.ParseFloat(valueString(v), 64)
		if err != nil {
			return ""
		}
		s := groupThousands(strconv.FormatFloat(abs(f), 'f', 2, 64))
		if f < 0 {
			return "-$" + s
		}
		return "$" + s
	case "DateTime":
		t, ok := parseTime(valueString(v))
		if !ok {
			return ""
		}
		t = t.UTC()
		if s := valueString(v); len(s) == len("2006-01-02") {
			return t.Format("1/2/2006")
		}
		return t.Format("1/2/2006 3:04 PM")
	}
	return ""
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// groupThousands puts en-US thousands separators into a plain decimal.
func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if hasFrac {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// splitPrefer splits a Prefer header on commas outside double quotes.
func splitPrefer(h string) []string {
	var parts []string
	start, quoted := 0, false
	for i := 0; i < len(h); i++ {
		switch h[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				parts = append(parts, h[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, h[start:])
}
