package protocol

import (
	"strings"
)

// answerText says what cifbridge does with a method, by who answers it.
var answerText = map[Answerer]string{
	AnswerBackend:   "the session's backend (emulator, dataverse, or host peers with `--backend host`)",
	AnswerWorkspace: "the agent workspace (docs/workspace.md); a host peer serving the session answers instead",
	AnswerBridge:    "the bridge: raised back to the widget's own handlers",
	AnswerClient:    "the JS client alone (handlers run on the bridge's event requests)",
}

var timeoutText = map[TimeoutClass]string{
	TimeoutCIF:    "CIF timeout",
	TimeoutNone:   "**none** (safety limit `--notimeout-limit`)",
	TimeoutClient: "—",
}

// MethodTableMarkdown renders CIFMethods and CIFEvents as the README's
// table: every CIF 1.0 and 2.0 method and event, its timeout class and what
// cifbridge does with it.
func MethodTableMarkdown() string {
	var b strings.Builder
	b.WriteString("| `Microsoft.CIFramework.` | wire method | CIF | timeout | answered by | resolves with |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	for _, m := range CIFMethods {
		wire := "—"
		if m.Method != "" {
			wire = "`" + m.Method + "`"
		}
		b.WriteString("| `" + m.JS + "` | " + wire + " | " + m.Versions + " | " + timeoutText[m.Timeout] + " | " +
			answerText[m.Answer] + " | " + codeShape(m.Result) + " |\n")
	}
	b.WriteString("\n| event (`addHandler` name) | CIF | timeout | eventData | raised by |\n")
	b.WriteString("| --- | --- | --- | --- | --- |\n")
	for _, e := range CIFEvents {
		timeout := "CIF timeout"
		if e.Local {
			timeout = "—"
		}
		b.WriteString("| `" + e.Name + "` | " + e.Versions + " | " + timeout + " | " + codeShape(e.EventData) + " | " + e.RaisedBy + " |\n")
	}
	return b.String()
}

// codeShape puts the JSON shape in a text ("JSON string {…}") in code
// quotes and escapes table pipes.
func codeShape(s string) string {
	if i := strings.IndexAny(s, "{["); i >= 0 {
		s = s[:i] + "`" + s[i:] + "`"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}
