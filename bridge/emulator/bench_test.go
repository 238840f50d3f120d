package emulator_test

import (
	"testing"

	"github.com/cifbridge/cifbridge/protocol"
)

func BenchmarkCreateRecord(b *testing.B) {
	e := newSeeded(b)
	params := `{"entityName":"contact","value":{"firstname":"Ada","lastname":"Lovelace","mobilephone":"+358401234567"}}`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := call(e, protocol.MethodCreateRecord, params); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSearch(b *testing.B) {
	e := newSeeded(b)
	for range 1000 {
		if _, err := call(e, protocol.MethodCreateRecord, `{"entityName":"contact","value":{"firstname":"Grace","lastname":"Hopper"}}`); err != nil {
			b.Fatal(err)
		}
	}
	params := `{"entityName":"contact","queryParameters":"?$select=fullname&$filter=mobilephone eq '+358401234567' or startswith(lastname,'Tur')&$top=10"}`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := call(e, protocol.MethodSearch, params); err != nil {
			b.Fatal(err)
		}
	}
}
