// Package workspace is the emulated agent workspace of CIF 2.0 (Customer
// Service workspace / Omnichannel), one per widget session: the sessions a
// widget opens from session templates, their tabs, the notification queue
// (notifyEvent, cancelEvent, insertNotes dialogs), the agent's presence, and
// the events the workspace raises to the widget (onSessionCreated,
// onSessionSwitched, onBeforeSessionClosed, onSessionClosed, onSetPresence,
// onMaxSessionsReached, onmodechanged, onsizechanged).
//
// It is not part of any backend: a real org has no such UI for a bridge to
// use, so every backend (emulator, dataverse) shares it; a host peer serving
// the session answers instead when one is connected. The agent is played
// through Respond, Focus, CloseSession, SetPresence and SetPanel, which the
// bridge's admin API exposes.
//
// Entry points: NewRegistry (one per bridge) and Registry.Get; a
// Workspace's Execute answers the calls for which Answers is true;
// Snapshot is the admin view; DefaultTemplates and LoadTemplates give the
// templates.
package workspace
