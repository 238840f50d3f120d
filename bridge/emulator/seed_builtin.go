package emulator

import _ "embed"

// BuiltinSeed is the small seed `cifbridge serve` loads when no
// --emulator-seed is given: two accounts and three contacts, the first
// contact (Ada Lovelace, mobilephone +358401234567) matching the sample
// click-to-act number of the dashboard and the sample softphone, so a first
// onclicktoact finds its caller. Pass it as Config.Seed.
//
//go:embed seed_builtin.json
var BuiltinSeed []byte
