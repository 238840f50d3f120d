package rpcconn_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/cifbridge/cifbridge/bridge/rpcconn"
)

// TestRecycledAnswerBuffers sends many pipelined calls on several
// connections at once, with answers of different sizes (some past the
// largest buffer kept): every answer must carry its own request's id and
// params, and every "out" frame OnFrame saw must be that answer, although
// the answers' buffers are reused once written.
func TestRecycledAnswerBuffers(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	s := startServer(t, rpcconn.Options{OnFrame: func(dir string, msg []byte) {
		if dir == "out" {
			mu.Lock()
			seen[string(msg)] = true
			mu.Unlock()
		}
	}}, 1<<20)
	const conns, calls = 4, 300
	var wg sync.WaitGroup
	for c := range conns {
		ws, _ := s.dial(t)
		wg.Go(func() {
			for i := range calls {
				pad := make([]byte, (i*37)%12000)
				for k := range pad {
					pad[k] = 'a' + byte((i+k)%26)
				}
				write(t, ws, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"echo","params":{"c":%d,"i":%d,"pad":%q}}`, i, c, i, pad))
			}
			got := map[int]bool{}
			for range calls {
				msg := read(t, ws)
				var m struct {
					ID     int
					Result struct {
						C, I int
						Pad  string
					}
				}
				if err := json.Unmarshal([]byte(msg), &m); err != nil {
					t.Errorf("answer is not JSON (%v): %.200s", err, msg)
					return
				}
				if m.Result.C != c || m.Result.I != m.ID || len(m.Result.Pad) != (m.ID*37)%12000 || got[m.ID] {
					t.Errorf("conn %d: answer %d carries conn %d call %d (pad %d bytes), or came twice", c, m.ID, m.Result.C, m.Result.I, len(m.Result.Pad))
					return
				}
				got[m.ID] = true
				mu.Lock()
				ok := seen[msg]
				mu.Unlock()
				if !ok {
					t.Errorf("conn %d: answer %d is not a frame OnFrame saw", c, m.ID)
					return
				}
			}
		})
	}
	wg.Wait()
}
