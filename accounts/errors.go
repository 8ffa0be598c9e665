package accounts

import (
	"errors"
	"fmt"
)

// ErrNotFound reports a missing user or API key, or a key that is revoked,
// malformed or carries the wrong secret. The directory's ErrNotFound is
// the same value.
var ErrNotFound = errors.New("not found")

// FieldError is a validation failure of one field. Field is a path such as
// "phones[1].number". The directory reports its own validation failures
// with it too (directory.FieldError is this type).
type FieldError struct {
	Field  string
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason) }
