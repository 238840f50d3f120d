package protocol

import "encoding/json"

// Inbound is a JSON-RPC 2.0 message as a client that reads with
// encoding/json sees it: a response, a notification or a request from the
// bridge, every member kept undecoded. The tests read what the bridge sends
// this way; the bridge and the load tool read with Decode (Message), which
// also checks that the object is valid JSON-RPC 2.0.
type Inbound struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
}
