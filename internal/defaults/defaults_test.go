package defaults_test

import (
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/internal/defaults"
)

func TestPositive(t *testing.T) {
	tests := []struct {
		name    string
		v, want time.Duration
		wantErr string
	}{
		{"zero takes the default", 0, 5 * time.Second, ""},
		{"set stays", time.Second, time.Second, ""},
		{"negative refused", -time.Second, -time.Second, "Timeout must be positive, got -1s"},
	}
	for _, tt := range tests {
		v := tt.v
		err := defaults.Positive("Timeout", &v, 5*time.Second)
		if v != tt.want || (err == nil) != (tt.wantErr == "") || err != nil && err.Error() != tt.wantErr {
			t.Errorf("%s: %v, %v; want %v, %q", tt.name, v, err, tt.want, tt.wantErr)
		}
	}
	n := int64(0)
	if err := defaults.Positive("MaxResponseBytes", &n, 1<<20); err != nil || n != 1<<20 {
		t.Errorf("int64: %d, %v", n, err)
	}
}
