package rpcconn

// Deferred counts w's non-blocking writes that left bytes in its backlog
// (the socket took part or nothing), for the tests of package rpcconn_test.
func (w *Wire) Deferred() int64 { return w.deferred.Load() }
