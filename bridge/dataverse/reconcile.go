package dataverse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// RecordExists reports whether entity has a record whose primary key is id
// (ledger.RecordChecker): the duplicate ledger's reconciliation after a
// restart asks it whether an idempotent create, whose key is the record's
// primary key, landed. A key that is not a GUID is no record's.
func (b *Backend) RecordExists(ctx context.Context, entity, id string) (bool, error) {
	a := attempt{method: "reconcile", messageType: "retrieverecord"}
	if _, err := guid("key", id); err != nil {
		return false, nil
	}
	d, key, err := b.record(ctx, a, entity, id)
	if err != nil {
		return false, fmt.Errorf("dataverse: metadata of %s: %w", entity, err)
	}
	_, err = b.do(ctx, a, request{method: http.MethodGet, path: recordPath(d, key), query: "$select=" + d.PrimaryIDAttribute})
	var ae *apiError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return false, nil
	case errors.As(err, &ae):
		return false, fmt.Errorf("dataverse: look up %s(%s): %d %s", d.EntitySetName, key, ae.Status, ae.Message)
	}
	return false, fmt.Errorf("dataverse: look up %s(%s): %w", d.EntitySetName, key, err)
}
