// Package enreachemu is an in-memory Enreach REST API (EnreachAPI, formerly
// BeneAPI) for the zero-config daemon: with no --enreach-url, serve answers
// enreach.executeQuery and enreach.setANumber from it.
//
// It serves, relative to the API root:
//
//	GET  /users/me                               the signed-in user {Id, OrganizationID, Email, UserName, FirstName, LastName}
//	GET  /users/{userId}                         a user of the emulator
//	POST /users/{userId}/features/cli/activate/  (PUT too) {"Number":"…"} → 204; the number shows on the user's next call
//	GET  /calls?StartTime=&EndTime=&UserIDs=     the calls placed with PlaceCall (times "yyyy-MM-dd HH:mm:ss", at most 31 days apart, else 400)
//	GET  /servicecall, /classificationschemas    []
//	POST /authuser/{email}/                      {"UserName","Password"} → {"SecretKey"} (no auth)
//
// plus canned responses (Spec.Responses, PUT /api/v1/enreach-emulator/responses),
// tried first. Every other route needs HTTP Basic email:secretKey or a
// bearer token (Spec.Tokens) and answers 401 {"Message":…} without; an
// unknown path is 404 {"Message": "No HTTP resource was found…"}, a wrong
// method 405 with Allow. Fault rules (FaultProfile, the Dataverse emulator's
// rule shape with path and status/body) add latency, error answers and drops.
// Stats counts requests by method and route and keeps, per user, the
// A-number set for the next call; PlaceCall (admin POST …/calls) places a
// call that uses it up, as the real next call would.
//
// The daemon reaches it in-process through Transport (its Enreach client
// runs unchanged, with no socket), mounts ServeHTTP under /enreach-emulator/
// for curl, and AdminHandler under /api/v1/enreach-emulator/.
package enreachemu
