package client

import (
	"context"
	"encoding/json"

	"github.com/cifbridge/cifbridge/protocol"
)

// The Enreach Voice for Dynamics calls. enreach.xrm.* go through the
// bridge's retry engine: a create that may have been duplicated by a retry
// says so (XrmCreateResult.PossibleDuplicate, LedgerID) and its ledger
// entry's later changes come to Options.OnLedger; when every attempt
// failed the error is protocol.ErrRetriesExhausted (-32005) with
// protocol.ExhaustedData (see ExhaustedData).

// ExecuteQuery runs an Enreach API query (GET, or POST with PostData) and
// returns its parsed body.
func (c *Conn) ExecuteQuery(ctx context.Context, p protocol.ExecuteQueryParams) (json.RawMessage, error) {
	var res json.RawMessage
	return res, c.Call(ctx, protocol.MethodEnreachExecuteQuery, p, &res)
}

// SetANumber sets the caller's outgoing number (A-number).
func (c *Conn) SetANumber(ctx context.Context, aNumber string) (json.RawMessage, error) {
	var res json.RawMessage
	return res, c.Call(ctx, protocol.MethodEnreachSetANumber, protocol.SetANumberParams{ANumber: aNumber}, &res)
}

// XrmCreateRecord is Xrm.WebApi.createRecord with the retry engine.
func (c *Conn) XrmCreateRecord(ctx context.Context, p protocol.XrmCreateParams) (protocol.XrmCreateResult, error) {
	var res protocol.XrmCreateResult
	return res, c.Call(ctx, protocol.MethodXrmCreateRecord, p, &res)
}

// XrmUpdateRecord is Xrm.WebApi.updateRecord with the retry engine.
func (c *Conn) XrmUpdateRecord(ctx context.Context, p protocol.XrmUpdateParams) (protocol.XrmUpdateResult, error) {
	var res protocol.XrmUpdateResult
	return res, c.Call(ctx, protocol.MethodXrmUpdateRecord, p, &res)
}

// XrmRetrieveRecord is Xrm.WebApi.retrieveRecord with the retry engine.
func (c *Conn) XrmRetrieveRecord(ctx context.Context, p protocol.XrmRetrieveParams) (json.RawMessage, error) {
	var rec json.RawMessage
	return rec, c.Call(ctx, protocol.MethodXrmRetrieveRecord, p, &rec)
}

// XrmExecute is Xrm.WebApi.online.execute with the retry engine; the
// result is the parsed response body.
func (c *Conn) XrmExecute(ctx context.Context, p protocol.XrmExecuteParams) (json.RawMessage, error) {
	var res json.RawMessage
	return res, c.Call(ctx, protocol.MethodXrmExecute, p, &res)
}

// ExhaustedData returns the attempts (and ledger entry) of a -32005
// error; ok is false for any other error.
func ExhaustedData(err error) (d protocol.ExhaustedData, ok bool) {
	pe := protocol.AsError(err)
	if pe == nil || pe.Code != protocol.CodeRetriesExhausted || len(pe.Data) == 0 {
		return d, false
	}
	return d, json.Unmarshal(pe.Data, &d) == nil
}
