package protocol

// UsesRecordedMembers reports whether p.ValueMembers(value) lists the
// members Decode recorded instead of scanning value.
func UsesRecordedMembers(p interface{ ValueMembers([]byte) ValidMemberScan }, value []byte) bool {
	m := p.ValueMembers(value)
	return m.rec != nil
}
