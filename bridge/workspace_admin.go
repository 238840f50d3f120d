package bridge

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/cifbridge/cifbridge/bridge/correlation"
	"github.com/cifbridge/cifbridge/bridge/workspace"
	"github.com/cifbridge/cifbridge/protocol"
)

// The agent workspace's admin API (docs/workspace.md): playing the agent.
func (s *Server) workspaceRoutes(mux *http.ServeMux) {
	const base = "/api/v1/sessions/{id}/workspace"
	mux.HandleFunc("GET "+base, s.admin(s.getWorkspace))
	mux.HandleFunc("POST "+base+"/notifications/{notificationId}", s.admin(s.agentRespond))
	mux.HandleFunc("POST "+base+"/sessions/{sessionId}/focus", s.admin(s.agentFocus))
	mux.HandleFunc("POST "+base+"/sessions/{sessionId}/close", s.admin(s.agentClose))
	mux.HandleFunc("POST "+base+"/presence", s.admin(s.agentPresence))
	mux.HandleFunc("POST "+base+"/panel", s.admin(s.agentPanel))
}

// workspaceOf answers 404 and returns nil when the widget session is not live.
func (s *Server) workspaceOf(w http.ResponseWriter, r *http.Request) *workspace.Workspace {
	ws := s.Workspace(r.PathValue("id"))
	if ws == nil {
		writeError(w, http.StatusNotFound, protocol.Errorf(protocol.CodeNoBackend, "no live session %q", r.PathValue("id")))
	}
	return ws
}

func (s *Server) getWorkspace(w http.ResponseWriter, r *http.Request) {
	if ws := s.workspaceOf(w, r); ws != nil {
		writeJSON(w, http.StatusOK, ws.Snapshot())
	}
}

// agentDone records the agent's action in the capture, then answers with
// the workspace as it is now, or maps the action's error.
func (s *Server) agentDone(w http.ResponseWriter, r *http.Request, ws *workspace.Workspace, a protocol.AgentAction, err error, what string) {
	switch {
	case err == nil:
		if s.cfg.OnFrame != nil {
			if params, perr := protocol.Raw(a); perr == nil {
				s.frame(r.PathValue("id"), protocol.CapturePeerAgent, protocol.CaptureDirIn, protocol.AppendRequest(nil, nil, "agent."+a.Kind, params))
			}
		}
		s.log.Info().Str("session", r.PathValue("id")).Str("kind", a.Kind).Str("target", a.Target).Str("action", a.Action).Msg("agent action")
		writeJSON(w, http.StatusOK, ws.Snapshot())
	case errors.Is(err, workspace.ErrNotFound):
		writeError(w, http.StatusNotFound, protocol.Errorf(protocol.CodeInvalidParams, "%s: not found in this session's workspace (GET the workspace to list them)", what))
	case errors.Is(err, workspace.ErrConflict):
		writeError(w, http.StatusConflict, protocol.Errorf(protocol.CodeInvalidParams, "%s: not possible in its state (a resolved notification, or the home session)", what))
	default:
		writeError(w, http.StatusBadRequest, err)
	}
}

// workspaceBody is workspaceOf, with the request's body decoded into v
// (decodeBody); nil when either failed (it answered).
func (s *Server) workspaceBody(w http.ResponseWriter, r *http.Request, v any) *workspace.Workspace {
	ws := s.workspaceOf(w, r)
	if ws == nil || !s.decodeBody(w, r, v) {
		return nil
	}
	return ws
}

// decodeBody reads a small JSON object body into v; false (answered 400)
// when it is not one.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil {
		err = protocol.DecodeParams(body, v)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

func (s *Server) agentRespond(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Action string `json:"action"`
	}
	if ws := s.workspaceBody(w, r, &body); ws != nil {
		id := r.PathValue("notificationId")
		a := protocol.AgentAction{Kind: "notification", Target: id, Action: body.Action}
		s.agentDone(w, r, ws, a, ws.Respond(id, body.Action), "notification "+id)
	}
}

func (s *Server) agentFocus(w http.ResponseWriter, r *http.Request) {
	if ws := s.workspaceOf(w, r); ws != nil {
		id := r.PathValue("sessionId")
		s.agentDone(w, r, ws, protocol.AgentAction{Kind: "focus", Target: id}, ws.Focus(id), "session "+id)
	}
}

func (s *Server) agentClose(w http.ResponseWriter, r *http.Request) {
	if ws := s.workspaceOf(w, r); ws != nil {
		id := r.PathValue("sessionId")
		s.agentDone(w, r, ws, protocol.AgentAction{Kind: "close", Target: id}, ws.CloseSession(id), "session "+id)
	}
}

func (s *Server) agentPresence(w http.ResponseWriter, r *http.Request) {
	var body struct {
		PresenceID string `json:"presenceId"`
	}
	ws := s.workspaceBody(w, r, &body)
	if ws == nil {
		return
	}
	if body.PresenceID == "" {
		writeError(w, http.StatusBadRequest, protocol.InvalidParams("\"presenceId\" is blank: pick one of the workspace's presenceList"))
		return
	}
	s.agentDone(w, r, ws, protocol.AgentAction{Kind: "presence", Target: body.PresenceID}, ws.SetPresence(body.PresenceID), "presence "+body.PresenceID)
}

// agentPanel is the agent resizing or minimising the panel: the workspace
// raises onmodechanged/onsizechanged, and the backend's panel state is set
// too so that getMode/getWidth agree.
func (s *Server) agentPanel(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Mode  *int `json:"mode"`
		Width *int `json:"width"`
	}
	ws := s.workspaceBody(w, r, &body)
	if ws == nil {
		return
	}
	err := ws.SetPanel(body.Mode, body.Width)
	if err == nil {
		sess := s.sessions.get(r.PathValue("id"))
		for method, v := range map[string]*int{protocol.MethodSetMode: body.Mode, protocol.MethodSetWidth: body.Width} {
			if v == nil || sess == nil {
				continue
			}
			params, _ := json.Marshal(protocol.ValueParams{Value: json.RawMessage(itoa(*v))})
			if _, _, berr := s.Attempt(r.Context(), sess, correlation.Attempt{Method: method, Params: params}); berr != nil {
				s.log.Warn().Err(berr).Str("session", sess.ID).Str("method", method).Msg("agent panel change: the backend did not take it")
			}
		}
	}
	s.agentDone(w, r, ws, protocol.AgentAction{Kind: "panel", Mode: body.Mode, Width: body.Width}, err, "panel")
}

func itoa(v int) string { b, _ := json.Marshal(v); return string(b) }
