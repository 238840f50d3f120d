package workspace

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cifbridge/cifbridge/protocol"
	"github.com/google/uuid"
)

// Notification states, as the admin API shows them.
const (
	statePending   = "pending"
	stateAccepted  = "accepted"
	stateRejected  = "rejected"
	stateTimedOut  = "timedout"
	stateCancelled = "cancelled"
	// stateWithdrawn: the widget's call ended first (safety limit, session
	// ended, widget gone); nobody hears the outcome.
	stateWithdrawn = "withdrawn"
)

// Notification kinds.
const (
	kindNotification = "notification"
	kindInsertNotes  = "insertNotes"
)

type notification struct {
	id, kind, template, title string
	fields                    map[string]string
	token                     string
	created                   time.Time
	expires                   time.Time // zero: waits for the agent without a timer
	state                     string
	resp                      protocol.NotificationResponse
	notes                     *protocol.InsertNotesParams
	done                      chan struct{} // closed when resolved
	timer                     *time.Timer
}

// resolveLocked settles a pending notification once.
func (w *Workspace) resolveLocked(n *notification, state string, resp protocol.NotificationResponse) bool {
	if n.state != statePending {
		return false
	}
	n.state, n.resp = state, resp
	if n.timer != nil {
		n.timer.Stop()
	}
	close(n.done)
	for i, x := range w.notes {
		if x == n {
			w.notes = append(w.notes[:i], w.notes[i+1:]...)
			break
		}
	}
	w.remember(n)
	return true
}

func (w *Workspace) remember(n *notification) {
	w.history = append(w.history, n)
	if len(w.history) > historyLen {
		w.history = w.history[len(w.history)-historyLen:]
	}
}

func result(resp protocol.NotificationResponse) protocol.NotifyEventResult {
	return protocol.NotifyEventResult{Value: resp}
}

func (w *Workspace) notifyEvent(ctx context.Context, p *protocol.NotifyEventParams) (any, error) {
	var in protocol.NotificationInput
	if err := protocol.ObjectInput("input", p.Input, &in); err != nil {
		return nil, err
	}
	if in.TemplateName == "" {
		return nil, protocol.InvalidParams("\"input.templateName\" is blank: name a notification template (e.g. \"incoming_call\")")
	}
	tpl, ok := w.t.notification(in.TemplateName)
	if !ok {
		return nil, protocol.NewCIFMessageError("NotifyEvent", "NotificationTemplateNotFoundError", "no notification template "+in.TemplateName)
	}
	n := &notification{kind: kindNotification, template: tpl.Name, title: fill(tpl.Title, in.TemplateParameters),
		token: p.CancellationToken, created: time.Now(), state: statePending, done: make(chan struct{})}
	if len(tpl.Fields) > 0 {
		n.fields = make(map[string]string, len(tpl.Fields))
		for k, v := range tpl.Fields {
			n.fields[k] = fill(v, in.TemplateParameters)
		}
	}
	w.mu.Lock()
	n.id = w.nextID("notification-")
	switch {
	case w.closed:
		w.mu.Unlock()
		return nil, protocol.Errorf(protocol.CodeNoBackend, "the session's workspace has closed")
	case len(w.pendingNotifications()) >= MaxPendingNotifications:
		n.state, n.resp = stateRejected, protocol.NotificationResponse{ActionName: protocol.ActionReject, ResponseReason: protocol.ReasonNotificationQueueLimitExceeded}
		close(n.done)
		w.remember(n)
		w.mu.Unlock()
		return result(n.resp), nil
	case tpl.AutoAccept:
		n.state, n.resp = stateAccepted, protocol.NotificationResponse{ActionName: protocol.ActionAccept, ResponseReason: protocol.ReasonAutoAccept}
		close(n.done)
		w.remember(n)
		w.mu.Unlock()
		return result(n.resp), nil
	}
	timeout := time.Duration(tpl.TimeoutSeconds) * time.Second
	if timeout == 0 {
		timeout = DefaultNotificationTimeout * time.Second
	}
	n.expires = n.created.Add(timeout)
	n.timer = time.AfterFunc(timeout, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.resolveLocked(n, stateTimedOut, protocol.NotificationResponse{ActionName: protocol.ActionTimeout, ResponseReason: protocol.ReasonDisplayTimeout})
	})
	w.notes = append(w.notes, n)
	w.mu.Unlock()
	return w.wait(ctx, n, func() (any, error) { return result(n.resp), nil })
}

// wait waits for n to be resolved, or withdraws it when ctx ends first.
func (w *Workspace) wait(ctx context.Context, n *notification, answer func() (any, error)) (any, error) {
	select {
	case <-n.done:
	case <-ctx.Done():
		w.mu.Lock()
		w.resolveLocked(n, stateWithdrawn, protocol.NotificationResponse{})
		w.mu.Unlock()
		<-n.done
	}
	w.mu.Lock()
	state := n.state
	w.mu.Unlock()
	if state == stateWithdrawn {
		if err := context.Cause(ctx); err != nil {
			return nil, err
		}
		return nil, protocol.Errorf(protocol.CodeNoBackend, "the session's workspace closed before the agent answered")
	}
	return answer()
}

// pendingNotifications are the pending notifications of kind notification
// (insertNotes dialogs do not count against the queue limit).
func (w *Workspace) pendingNotifications() []*notification {
	var out []*notification
	for _, n := range w.notes {
		if n.kind == kindNotification {
			out = append(out, n)
		}
	}
	return out
}

func (w *Workspace) cancelEvent(p *protocol.CancelEventParams) (any, error) {
	if p.CancellationToken == "" {
		return nil, protocol.InvalidParams("\"cancellationToken\" is blank: pass the token given to notifyEvent")
	}
	resp := protocol.NotificationResponse{ActionName: protocol.ActionCancel, ResponseReason: protocol.ReasonCancelledByProvider}
	found := false
	for _, n := range append([]*notification(nil), w.notes...) {
		if n.token == p.CancellationToken && n.kind == kindNotification {
			found = w.resolveLocked(n, stateCancelled, resp) || found
		}
	}
	if !found {
		return nil, protocol.NewCIFMessageError("CancelEvent", "No pending notification has this cancellation token.", p.CancellationToken)
	}
	return result(resp), nil
}

// NotesResult is what insertNotes resolves with once the agent saved the
// note.
type NotesResult struct {
	EntityName   string `json:"entityName"`
	EntityID     string `json:"entityId"`
	AnnotationID string `json:"annotationId"`
}

// insertNotes opens the notes dialog for the agent: a pending item of kind
// insertNotes that the agent accepts (the note is saved: resolves with the
// annotation id) or rejects (the dialog was closed: rejects). No timer.
func (w *Workspace) insertNotes(ctx context.Context, p *protocol.InsertNotesParams) (any, error) {
	if err := protocol.RequireEntity("entityName", p.EntityName); err != nil {
		return nil, err
	}
	if err := protocol.RequireID("entityId", p.EntityID); err != nil {
		return nil, err
	}
	n := &notification{kind: kindInsertNotes, template: "insertNotes", title: "Add a note to " + p.EntityName,
		fields: map[string]string{"Record": p.EntityName + " " + p.EntityID}, notes: p, created: time.Now(),
		state: statePending, done: make(chan struct{})}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil, protocol.Errorf(protocol.CodeNoBackend, "the session's workspace has closed")
	}
	n.id = w.nextID("notification-")
	w.notes = append(w.notes, n)
	w.mu.Unlock()
	return w.wait(ctx, n, func() (any, error) {
		if n.state != stateAccepted {
			return nil, cifErr("insertNotes", "The agent closed the notes dialog without saving.")
		}
		id := p.AnnotationID
		if id == "" {
			id = uuid.NewString()
		}
		return NotesResult{EntityName: p.EntityName, EntityID: p.EntityID, AnnotationID: id}, nil
	})
}

// Respond is the agent answering a pending notification (or notes
// dialog): action "accept" or "reject". ErrNotFound for an unknown id,
// ErrConflict when it is no longer pending.
func (w *Workspace) Respond(id, action string) error {
	var state string
	var resp protocol.NotificationResponse
	switch action {
	case "accept":
		state, resp = stateAccepted, protocol.NotificationResponse{ActionName: protocol.ActionAccept, ResponseReason: protocol.ReasonAccept}
	case "reject":
		state, resp = stateRejected, protocol.NotificationResponse{ActionName: protocol.ActionReject, ResponseReason: protocol.ReasonDeclinedByAgent}
	default:
		return protocol.InvalidParams("\"action\" must be \"accept\" or \"reject\", got %q", action)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range w.notes {
		if n.id == id {
			w.resolveLocked(n, state, resp)
			return nil
		}
	}
	for _, n := range w.history {
		if n.id == id {
			return ErrConflict
		}
	}
	return ErrNotFound
}

// rawOrNil keeps json.RawMessage values printable in views.
func rawOrNil(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return nil
	}
	return v
}
