package protocol

// OpenFormParams: see cif2.go (the method table's types).

// RefreshFormParams are the params of cif.refreshform.
type RefreshFormParams struct {
	Save bool `json:"save"`
}

// RenderSearchPageParams are the params of cif.renderSearchPage.
type RenderSearchPageParams struct {
	EntityName   string `json:"entityName"`
	SearchString string `json:"searchString"`
}
