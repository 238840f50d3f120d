// Package protocol is cifbridge's wire contract: JSON-RPC 2.0 messages over
// WebSocket, the method names and their named params and results, the error
// codes, and (in capture.go) the capture file format. It imports nothing of
// cifbridge's own, so widgets, hosts, tools and tests can share it.
//
// # Protocol flow
//
// A widget opens a WebSocket on /v1/widget (subprotocol "cifbridge.v1", or
// none) and sends one JSON-RPC object or batch per text message:
//
//	widget → bridge  {"jsonrpc":"2.0","id":1,"method":"bridge.hello","params":{"profile":"cif1"}}
//	bridge → widget  {"jsonrpc":"2.0","id":1,"result":{"session":"s-…","profile":"cif1","timeoutMs":10000,"version":"…","resumeToken":"…"}}
//	widget → bridge  {"jsonrpc":"2.0","id":2,"method":"cif.createrecord","params":{"entityName":"contact","value":{"firstname":"Ada"}}}
//	bridge → widget  {"jsonrpc":"2.0","id":2,"result":{"entityType":"contact","id":"…"}}
//
// Every cif.* call is one attempt on the session's backend under the CIF
// timeout (10 s for profile cif1, 100 s for cif2). When it expires the widget
// gets ErrTimeout (-32000) with CIF's own timeout text; the attempt is kept as
// a late record, and if the backend answers later the widget is told with the
// notification bridge.late. The calls CIF posts without a timer (openForm,
// notifyEvent, insertNotes: they wait for the agent) have no CIF timeout:
// only the bridge's safety limit (ErrSafetyLimit, -32008). CIFMethods lists
// every CIF 1.0 and 2.0 method with its params type, timeout class and who
// answers it (the backend, or the agent workspace for CIF 2.0 sessions,
// tabs, notifications and presence). Events travel the other way as requests
// (cif.onclicktoact {eventData}) that the widget answers under the same
// timeout.
//
// A widget that reconnects resumes its session with bridge.hello {session,
// resumeToken}: the token its first hello returned, without which the
// resume is refused (-32004). Resuming a live session moves it; its old
// socket is closed with CloseSessionMoved (4001).
//
// A host peer (the main-window side) opens /v1/host, says host.hello and then
// receives the widgets' cif.* calls as requests whose params carry an extra
// "session" member (the bridge's; a widget may not send its own); it may raise events with host.raiseEvent.
//
// Entry points: Decode parses one WebSocket message (DecodeInto into the
// caller's Decoded, as a connection's reader does); AppendResponse and
// AppendRequest encode; Error and the Err* sentinels are the error codes;
// Method* name the methods and *Params/*Result their shapes; IndexedObject,
// SourceFunc, MaxSearchRecords and XrmOp* (cifshape.go) are the CIF answer
// shapes every backend shares.
package protocol
