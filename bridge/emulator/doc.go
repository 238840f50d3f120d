// Package emulator is the embedded Dataverse emulator, cifbridge's
// zero-config default backend (README "Configuration"). It keeps records in memory,
// keyed by logical name, with the metadata table logical name → entity set
// → primary key Dataverse's metadata gives (bridge/primarykey), and answers CIF calls with CIF's result
// shapes and Dataverse's error codes.
//
// Entry points:
//
//   - New(Config) builds an emulator from an optional schema file, seed data
//     and fault profile.
//   - (*Emulator).Execute implements backend.Backend for cif.* calls and
//     xrm.execute.
//   - (*Emulator).WebAPIHandler is the Dataverse Web API face, mounted at
//     /api/data/v9.2/ (it expects the full path).
//   - (*Emulator).AdminHandler serves /api/v1/emulator/faults, /stats and
//     /reset.
//   - SetFaults/Faults, Stats, Reset and Entity for tests and the daemon.
//
// # Schema file
//
// Optional JSON that extends the built-in table (account, contact, incident,
// lead, phonecall, task); see testdata/schema-example.json:
//
//	{
//	  "entities": [{"logicalName": "new_call", "entitySetName": "new_calls",
//	                "primaryIdAttribute": "new_callid", "primaryNameAttribute": "new_name",
//	                "attributes": ["new_name", "new_duration"],
//	                "lookups": {"new_contactid": ["contact"]}}],
//	  "duplicateRules": [{"entity": "contact", "attributes": ["emailaddress1"], "onCIF": false}],
//	  "operations": [{"name": "new_Ping", "kind": "action", "response": {"pong": true}}],
//	  "environment": {"orgUniqueName": "contoso"},
//	  "alternateKeys": {"account": [["accountnumber"]]},
//	  "attributeTypes": {"new_call": {"new_duration": {"type": "Integer"},
//	                     "new_name": {"type": "String", "maxLength": 100}}}
//	}
//
// An entity whose logicalName is built in overrides the non-empty fields
// given and adds its attributes and lookups. Lookups map a lookup to its
// target logical names (more than one = polymorphic); a write binds it
// through its navigation property, Dataverse's name for it (navProperty):
// "<lookup>@odata.bind": "/contacts(<guid>)" for one target,
// "<lookup>_<target>@odata.bind" for a polymorphic one, and on an activity
// "<lookup>_<target>_<activity>" ("regardingobjectid_contact_phonecall");
// the GUID is read back as "_<lookup>_value". "alternateKeys" lists each entity's
// alternate keys (column lists) for paths like accounts(accountnumber='A-1')
// (altkeys.go); "attributeTypes" declares column types (String, Memo,
// Integer, BigInt, Decimal, Money, Double, Boolean, DateTime, Picklist with
// options) that writes are checked against (types.go). For an entity whose primary name is
// "fullname" and that has firstname and lastname, fullname is computed.
// Duplicate rules fire on the Web API face only with the header
// "MSCRM.SuppressDuplicateDetection: false", on the CIF path only when
// "onCIF" is true; none are active unless declared. Operations are custom
// actions (POST, operationType 0) and functions (GET, operationType 1) that
// answer with their declared response; WhoAmI is built in. "environment"
// overrides keys of the cif.getenvironment answer (userId and orgId also
// feed WhoAmI).
//
// # Seed file
//
// {"contact":[{"contactid":"…","firstname":"Ada","lastname":"Lovelace"}],
// "account":[…]} — records keyed by logical name, created as by a create
// call (client-supplied keys allowed; lookups may point to other seeded
// tables in any order). See testdata/seed-example.json.
//
// # Faults
//
// FaultProfile (JSON {"seed":1,"rules":[{"method":"createrecord",
// "entity":"contact","latencyMs":3000,"ratio":1.0,"count":1,
// "error":{"status":503,"code":"0x80040216","message":"…"},"drop":false}]})
// injects latency, errors and drops per method and entity, from a seeded
// PCG so runs repeat. A delayed operation completes at the end of its
// latency even when the caller gave up, so a create delayed past the CIF
// timeout really exists afterwards; Stats counts those completions as
// lateCompletions when the call's Deadline has passed.
//
// # Stats
//
// {"tables":{"contact":{"records":N},…},"operations":{"createrecord":N,…},
// "lateCompletions":N,"faultsApplied":N,"delayed":N,"injectedErrors":N,
// "dropped":N}. Operations count calls that reached the store (including
// those that failed with a Dataverse error such as 404 or 412), not
// injected errors, drops, or calls refused while validating params.
package emulator
