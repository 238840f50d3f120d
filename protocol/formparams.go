package protocol

import "encoding/json"

// OpenFormParams are the params of cif.openform: CIF's entityFormOptions
// and entityFormParameters objects, passed through.
type OpenFormParams struct {
	EntityFormOptions    json.RawMessage `json:"entityFormOptions,omitempty"`
	EntityFormParameters json.RawMessage `json:"entityFormParameters,omitempty"`
}

// RefreshFormParams are the params of cif.refreshform.
type RefreshFormParams struct {
	Save bool `json:"save"`
}

// RenderSearchPageParams are the params of cif.renderSearchPage.
type RenderSearchPageParams struct {
	EntityName   string `json:"entityName"`
	SearchString string `json:"searchString"`
}
