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
	return result[json.RawMessage](ctx, c, protocol.MethodEnreachExecuteQuery, p)
}

// SetANumber sets the caller's outgoing number (A-number).
func (c *Conn) SetANumber(ctx context.Context, aNumber string) (json.RawMessage, error) {
	return result[json.RawMessage](ctx, c, protocol.MethodEnreachSetANumber, protocol.SetANumberParams{ANumber: aNumber})
}

// XrmCreateRecord is Xrm.WebApi.createRecord with the retry engine.
func (c *Conn) XrmCreateRecord(ctx context.Context, p protocol.XrmCreateParams) (protocol.XrmCreateResult, error) {
	return result[protocol.XrmCreateResult](ctx, c, protocol.MethodXrmCreateRecord, p)
}

// XrmUpdateRecord is Xrm.WebApi.updateRecord with the retry engine.
func (c *Conn) XrmUpdateRecord(ctx context.Context, p protocol.XrmUpdateParams) (protocol.XrmUpdateResult, error) {
	return result[protocol.XrmUpdateResult](ctx, c, protocol.MethodXrmUpdateRecord, p)
}

// XrmRetrieveRecord is Xrm.WebApi.retrieveRecord with the retry engine.
func (c *Conn) XrmRetrieveRecord(ctx context.Context, p protocol.XrmRetrieveParams) (json.RawMessage, error) {
	return result[json.RawMessage](ctx, c, protocol.MethodXrmRetrieveRecord, p)
}

// XrmExecute is Xrm.WebApi.online.execute with the retry engine; the
// result is the parsed response body.
func (c *Conn) XrmExecute(ctx context.Context, p protocol.XrmExecuteParams) (json.RawMessage, error) {
	return result[json.RawMessage](ctx, c, protocol.MethodXrmExecute, p)
}

// result calls method and returns its result as a T.
func result[T any](ctx context.Context, c *Conn, method string, params any) (T, error) {
	var res T
	return res, c.Call(ctx, method, params, &res)
}

// cifResult is result for the CIF calls (see callCIF).
func cifResult[T any](ctx context.Context, c *Conn, method string, params any) (T, error) {
	var res T
	return res, c.callCIF(ctx, method, params, &res)
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
