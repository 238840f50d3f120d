package dataverse_test

import (
	"context"
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

// RecordExists finds a record by its primary key on the org, says no for an
// unknown key or one that is no GUID, and reports an org it cannot ask.
func TestRecordExists(t *testing.T) {
	f := newFixture(t, nil)
	key := "5f2d3c44-0000-4000-8000-00000000aa01"
	f.ok(protocol.MethodCreateRecord, map[string]any{"entityName": "contact", "value": map[string]any{"contactid": key, "lastname": "Kept"}}, nil)
	ctx := context.Background()
	for _, tt := range []struct {
		name, entity, id string
		want             bool
	}{
		{"created under the key", "contact", key, true},
		{"upper-case key", "contact", "5F2D3C44-0000-4000-8000-00000000AA01", true},
		{"unknown key", "contact", "5f2d3c44-0000-4000-8000-00000000aa02", false},
		{"not a GUID", "contact", "k-1", false},
	} {
		got, err := f.b.RecordExists(ctx, tt.entity, tt.id)
		if err != nil || got != tt.want {
			t.Errorf("%s: %v %v, want %v", tt.name, got, err, tt.want)
		}
	}
	if _, err := f.b.RecordExists(ctx, "nosuchentity", key); err == nil {
		t.Error("an entity the org does not know: no error")
	}
}
