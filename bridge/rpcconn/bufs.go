package rpcconn

import "sync"

// Answer buffers: a request's response is encoded into a buffer from
// answerBufs, and the writer gives it back once written, so that a round
// trip allocates no response frame. Every frame in the send queue is built
// here and used by nobody after send (Options.OnFrame sees it during the
// call only), so the writer may recycle any of them.
//
// The pool holds *[]byte (a slice in an interface would allocate on each
// Put); the pointers themselves go round through emptyBoxes, so taking and
// returning a buffer allocates nothing once both pools are warm.
var (
	answerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}
	emptyBoxes = sync.Pool{New: func() any { return new([]byte) }}
)

// maxAnswerBuffer bounds the buffers kept: a large answer's buffer is let
// go, so one big search result does not pin its size in the pool.
const maxAnswerBuffer = 8 << 10

// answerBuf returns an empty buffer to encode a frame into.
func answerBuf() []byte {
	box := answerBufs.Get().(*[]byte)
	b := (*box)[:0]
	*box = nil
	emptyBoxes.Put(box)
	return b
}

// recycle gives back a frame the writer has written.
func recycle(b []byte) {
	if cap(b) == 0 || cap(b) > maxAnswerBuffer {
		return
	}
	box := emptyBoxes.Get().(*[]byte)
	*box = b[:0]
	answerBufs.Put(box)
}
