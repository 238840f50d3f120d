package correlation

import (
	"testing"
	"unsafe"
)

// The attempt counter every attempt adds to shares no cache line with
// the fields every attempt reads, whatever the Table's alignment.
func TestSeqAloneOnItsLine(t *testing.T) {
	var tab Table
	seq := unsafe.Offsetof(tab.seq)
	if seq-(unsafe.Offsetof(tab.prefix)+unsafe.Sizeof(tab.prefix)) < 56 || unsafe.Offsetof(tab.base)-(seq+unsafe.Sizeof(tab.seq)) < 56 {
		t.Fatalf("seq at %d, prefix ends at %d, base at %d: want 56 bytes either side (an 8-byte counter, 8-aligned, then shares no 64-byte line)",
			seq, unsafe.Offsetof(tab.prefix)+unsafe.Sizeof(tab.prefix), unsafe.Offsetof(tab.base))
	}
}
