// Package dataverse is the backend that executes CIF calls against a real
// Dataverse Web API org (--backend dataverse), authenticated
// with OAuth2 client credentials.
//
// Entry points:
//
//   - New(Config) validates the configuration and returns a *Backend.
//   - (*Backend).Execute implements backend.Backend for every cif.* call and
//     for protocol.BackendExecute (xrm.execute).
//   - (*Backend).Check calls WhoAmI once, for a readiness probe or a start-up
//     log line.
//
// # Mapping
//
//	cif.createrecord      POST   <set>?$select=<pk>  Prefer: return=representation → {entityType, id}
//	cif.retrieverecord    GET    <set>(<id>)<queryParameters>                      → the record
//	cif.updaterecord      PATCH  <set>(<id>)  If-Match: * (never an upsert)         → {entityType, id}
//	cif.deleterecord      DELETE <set>(<id>)                                        → {entityType, id}
//	cif.search(andopen…)  GET    <set><queryParameters>, following @odata.nextLink up to $top
//	                             or MaxSearchRecords (5000)                         → {"0":rec,"1":…}
//	cif.getEntityMetadata GET    EntityDefinitions(LogicalName='x')?$expand=Attributes(…)
//	                             (+ the LookupAttributeMetadata cast for Targets)   → metadata (cached)
//	cif.getenvironment    GET    WhoAmI, RetrieveVersion, systemusers(<id>) with its roles,
//	                             usersettingscollection(<id>), organizations(<id>)  → environment map (cached)
//	xrm.execute           operationType 0: POST <action> (bound: <set>(<id>)/Microsoft.Dynamics.CRM.<action>)
//	                      operationType 1: GET <function>(…) with parameter aliases
//	                      operationType 2: Create/Retrieve/Update/Delete as above
//
// The entity set and primary key come from EntityDefinitions, fetched once
// per entity and cached. Set/get clicktoact, mode and width have no Dataverse
// equivalent: they are per-session state kept in memory, with the emulator's
// defaults. openform, refreshform and renderSearchPage are UI calls with
// nothing to do without a browser host and answer as the emulator does.
//
// # Errors
//
// A Dataverse error {"error":{"code","message"}} becomes a -32001 error whose
// data keeps the hex code and the HTTP status (protocol.BackendErrorData); a
// 429 or 503 with Retry-After also sets retryAfterMs. A 401 makes the
// backend drop its cached token, fetch a new one and retry that request once.
// When a request outlives Config.HTTPTimeout the outcome is unknown (a create
// may still land), so it is reported as a -32000 timeout, which the retry
// engine treats like a CIF timeout; a request that could not be sent at all
// is -32002. Secrets (client secret, access tokens) are never logged or put
// in an error.
package dataverse
