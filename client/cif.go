package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/cifbridge/cifbridge/protocol"
)

// The CIF 1.0 calls (protocol/methods.go), one attempt each under the
// session's CIF timeout. A timeout is protocol.ErrTimeout (-32000); its
// late answer, if any, comes to Options.OnLate.

// CreateRecord creates a record of entity from value (a struct or map
// marshalled to a JSON object, or a json.RawMessage).
func (c *Conn) CreateRecord(ctx context.Context, entity string, value any) (protocol.CreateResult, error) {
	v, err := object(value)
	if err != nil {
		return protocol.CreateResult{}, err
	}
	return cifResult[protocol.CreateResult](ctx, c, protocol.MethodCreateRecord, protocol.CreateRecordParams{EntityName: entity, Value: v})
}

// RetrieveRecord reads one record; query is "?$select=…&$expand=…" or "".
func (c *Conn) RetrieveRecord(ctx context.Context, entity, id, query string) (json.RawMessage, error) {
	return cifResult[json.RawMessage](ctx, c, protocol.MethodRetrieveRecord, protocol.RetrieveRecordParams{EntityName: entity, EntityID: id, QueryParameters: query})
}

// UpdateRecord changes the columns in value of one record.
func (c *Conn) UpdateRecord(ctx context.Context, entity, id string, value any) (protocol.CreateResult, error) {
	v, err := object(value)
	if err != nil {
		return protocol.CreateResult{}, err
	}
	return cifResult[protocol.CreateResult](ctx, c, protocol.MethodUpdateRecord, protocol.UpdateRecordParams{EntityName: entity, EntityID: id, Value: v})
}

// DeleteRecord deletes one record.
func (c *Conn) DeleteRecord(ctx context.Context, entity, id string) (protocol.CreateResult, error) {
	return cifResult[protocol.CreateResult](ctx, c, protocol.MethodDeleteRecord, protocol.RecordParams{EntityName: entity, EntityID: id})
}

// Search returns the records of entity matching query
// ("?$select=…&$filter=…&$top=…"), in CIF's order.
func (c *Conn) Search(ctx context.Context, entity, query string) ([]json.RawMessage, error) {
	return c.search(ctx, protocol.MethodSearch, protocol.SearchParams{EntityName: entity, QueryParameters: query})
}

// SearchAndOpenRecords is Search that also opens the result in the host
// (one record: its form; several: the search page) unless searchOnly.
func (c *Conn) SearchAndOpenRecords(ctx context.Context, entity, query string, searchOnly bool) ([]json.RawMessage, error) {
	return c.search(ctx, protocol.MethodSearchAndOpenRecords, protocol.SearchParams{EntityName: entity, QueryParameters: query, SearchOnly: searchOnly})
}

func (c *Conn) search(ctx context.Context, method string, p protocol.SearchParams) ([]json.RawMessage, error) {
	var indexed map[string]json.RawMessage // CIF's {"0":record,"1":…}
	if err := c.callCIF(ctx, method, p, &indexed); err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(indexed))
	for k, rec := range indexed {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= len(out) {
			return nil, fmt.Errorf("%s: the result has key %q, want 0…%d", method, k, len(out)-1)
		}
		out[i] = rec
	}
	return out, nil
}

// GetEnvironment returns the host's environment (appUrl, orgId, userId, …).
func (c *Conn) GetEnvironment(ctx context.Context) (map[string]json.RawMessage, error) {
	return cifResult[map[string]json.RawMessage](ctx, c, protocol.MethodGetEnvironment, struct{}{})
}

// GetEntityMetadata returns the metadata of entity, limited to attributes
// when given.
func (c *Conn) GetEntityMetadata(ctx context.Context, entity string, attributes ...string) (json.RawMessage, error) {
	return cifResult[json.RawMessage](ctx, c, protocol.MethodGetEntityMetadata, protocol.EntityMetadataParams{EntityName: entity, Attributes: attributes})
}

// OpenForm opens a form; the result names the saved record, if any.
func (c *Conn) OpenForm(ctx context.Context, p protocol.OpenFormParams) (json.RawMessage, error) {
	return cifResult[json.RawMessage](ctx, c, protocol.MethodOpenForm, p)
}

// RefreshForm refreshes the open form, saving it first when save is true.
func (c *Conn) RefreshForm(ctx context.Context, save bool) error {
	return c.callCIF(ctx, protocol.MethodRefreshForm, protocol.RefreshFormParams{Save: save}, nil)
}

// RenderSearchPage opens the host's search page for entity.
func (c *Conn) RenderSearchPage(ctx context.Context, entity, search string) error {
	return c.callCIF(ctx, protocol.MethodRenderSearchPage, protocol.RenderSearchPageParams{EntityName: entity, SearchString: search}, nil)
}

// SetClickToAct turns click-to-act (cif.onclicktoact events) on or off.
func (c *Conn) SetClickToAct(ctx context.Context, on bool) error {
	return c.callCIF(ctx, protocol.MethodSetClickToAct, protocol.ValueParams{Value: mustJSON(on)}, nil)
}

// GetClickToAct reports whether click-to-act is on.
func (c *Conn) GetClickToAct(ctx context.Context) (bool, error) {
	return cifResult[bool](ctx, c, protocol.MethodGetClickToAct, struct{}{})
}

// Panel modes of SetMode and GetMode.
const (
	ModeMinimized = 0
	ModeDocked    = 1
	ModeHidden    = 2
)

// SetMode sets the widget panel's mode (ModeMinimized, ModeDocked,
// ModeHidden).
func (c *Conn) SetMode(ctx context.Context, mode int) error {
	return c.callCIF(ctx, protocol.MethodSetMode, protocol.ValueParams{Value: mustJSON(mode)}, nil)
}

// GetMode returns the widget panel's mode.
func (c *Conn) GetMode(ctx context.Context) (int, error) {
	return cifResult[int](ctx, c, protocol.MethodGetMode, struct{}{})
}

// SetWidth sets the widget panel's width in pixels.
func (c *Conn) SetWidth(ctx context.Context, px int) error {
	return c.callCIF(ctx, protocol.MethodSetWidth, protocol.ValueParams{Value: mustJSON(px)}, nil)
}

// GetWidth returns the widget panel's width in pixels.
func (c *Conn) GetWidth(ctx context.Context) (int, error) {
	return cifResult[int](ctx, c, protocol.MethodGetWidth, struct{}{})
}

// callCIF is Call for CIF results, which some hosts return in CIF's own
// shape: a JSON string holding the JSON value.
func (c *Conn) callCIF(ctx context.Context, method string, params, result any) error {
	var raw json.RawMessage
	if err := c.Call(ctx, method, params, &raw); err != nil {
		return err
	}
	if result == nil {
		return nil
	}
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '"' {
		if s := unquote(t); json.Valid(s) {
			raw = s
		}
	}
	if err := json.Unmarshal(raw, result); err != nil {
		return fmt.Errorf("%s: decode the result: %w", method, err)
	}
	return nil
}

// unquote returns the string a JSON string literal holds, or nil.
func unquote(b []byte) []byte {
	var s string
	if json.Unmarshal(b, &s) != nil {
		return nil
	}
	return []byte(s)
}

// object marshals v to JSON and checks that it is an object.
func object(v any) (json.RawMessage, error) {
	b, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("encode the record: %w", err)
		}
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("the record must be a JSON object, got %.40s", b)
	}
	return b, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only bools and ints
	}
	return b
}
