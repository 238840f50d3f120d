package rpcconn

// FastReads counts the messages w's reader took without the WebSocket
// (nextText), for the tests of package rpcconn_test.
func (w *Wire) FastReads() int64 { return w.fastN.Load() }
