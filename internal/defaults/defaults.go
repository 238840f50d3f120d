// Package defaults fills the zero-means-default fields of a config struct:
// configs are plain structs whose zero fields mean "the default", validated
// in their package's New.
//
// Entry point: Positive.
package defaults

import (
	"fmt"
)

// Positive sets *v to def when it is zero; a negative *v is an error naming
// the field ("Timeout must be positive, got -1s").
func Positive[T ~int | ~int64](name string, v *T, def T) error {
	if *v == 0 {
		*v = def
	}
	if *v < 0 {
		return fmt.Errorf("%s must be positive, got %v", name, *v)
	}
	return nil
}
