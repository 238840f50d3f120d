package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
)

// TestServeWorkspaceTemplates: a templates file adds a notification
// template that a widget then uses; the agent's GET shows it.
func TestServeWorkspaceTemplates(t *testing.T) {
	file := tempFile(t, "templates.json", `{"maxSessions":2,"notificationTemplates":[{"name":"vip_call","title":"VIP {customer}","autoAccept":true}]}`)
	url, _, _ := startServe(t, "--workspace-templates", file, "--notimeout-limit", "1m")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w := dialConn(t, ctx, url, &client.Options{Profile: protocol.ProfileCIF2})
	var got json.RawMessage
	if err := w.Call(ctx, protocol.MethodNotifyEvent, map[string]any{"input": map[string]any{"templateName": "vip_call", "templateParameters": map[string]any{"customer": "Ada"}}}, &got); err != nil ||
		string(got) != `{"value":{"actionName":"Accept","responseReason":"AutoAccept"}}` {
		t.Fatalf("notifyEvent = %s %v", got, err)
	}
	base := strings.Replace(strings.TrimSuffix(url, "/v1/widget"), "ws://", "http://", 1)
	res, err := http.Get(base + "/api/v1/sessions/" + w.Session() + "/workspace")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var snap struct {
		MaxSessions   int `json:"maxSessions"`
		Notifications []struct {
			Title, State string
		} `json:"notifications"`
	}
	if err := json.NewDecoder(res.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	if snap.MaxSessions != 2 || len(snap.Notifications) != 1 || snap.Notifications[0].Title != "VIP Ada" || snap.Notifications[0].State != "accepted" {
		t.Errorf("workspace = %+v", snap)
	}
}

func TestServeWorkspaceFlagErrors(t *testing.T) {
	bad := tempFile(t, "bad.json", `{"sessionTemplates":[{"name":"x","anchorTab":"nope"}]}`)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--workspace-templates", bad}, `anchorTab "nope" is not a tab template`},
		{[]string{"--workspace-templates", filepath.Join(t.TempDir(), "missing.json")}, "--workspace-templates"},
		{[]string{"--notimeout-limit", "0s"}, "--notimeout-limit must be positive"},
	} {
		err := run(context.Background(), append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, tt.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error with %q", tt.args, err, tt.want)
		}
	}
}

// TestServeDataverseWorkspace: with a real org as the backend, the CIF 2.0
// calls are the workspace's; CRUD still goes to the org.
func TestServeDataverseWorkspace(t *testing.T) {
	o := newDVOrg(t)
	url, _, _ := startServe(t, "--backend", "dataverse", "--dataverse-url", o.org.URL, "--dataverse-token-url", o.tokens.URL,
		"--dataverse-client-id", "app", "--dataverse-client-secret-file", secretFile(t, dvTestSecret))
	w := dialWS(t, url)
	res, perr := w.call("cif.notifyEvent", map[string]any{"input": map[string]any{"templateName": "incoming_call_autoaccept"}})
	if perr != nil || string(res) != `{"value":{"actionName":"Accept","responseReason":"AutoAccept"}}` {
		t.Fatalf("notifyEvent = %s %+v", res, perr)
	}
	res, perr = w.call("cif.createSession", map[string]any{"input": map[string]any{"templateName": "call_session", "templateParameters": map[string]any{"customer": "Ada"}}})
	if perr != nil || !strings.HasPrefix(string(res), `"session-id-`) {
		t.Fatalf("createSession = %s %+v", res, perr)
	}
	if _, perr := w.call("cif.createrecord", map[string]any{"entityName": "contact", "value": map[string]any{"firstname": "Ada"}}); perr != nil {
		t.Fatalf("createrecord on the org: %+v", perr)
	}
	if n := o.emu.Stats().Tables["contact"].Records; n != 1 {
		t.Errorf("the org has %d contacts, want 1", n)
	}
}
