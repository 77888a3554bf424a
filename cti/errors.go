package cti

import (
	"errors"
	"fmt"
)

// Kind classifies an error so the edges (REST, websocket, SIP) can map it to
// a status in one place without knowing where it came from.
type Kind int

const (
	KindInternal Kind = iota
	KindNotFound
	KindInvalid
	KindUnauthorized
	KindForbidden
	KindConflict
	KindUnavailable
	KindBusy
	// KindRateLimited: too many requests of this kind; retry later (429).
	KindRateLimited
)

func (k Kind) String() string {
	switch k {
	case KindNotFound:
		return "not_found"
	case KindInvalid:
		return "invalid"
	case KindUnauthorized:
		return "unauthorized"
	case KindForbidden:
		return "forbidden"
	case KindConflict:
		return "conflict"
	case KindUnavailable:
		return "unavailable"
	case KindBusy:
		return "busy"
	case KindRateLimited:
		return "rate_limited"
	default:
		return "internal"
	}
}

// Error is the domain error: a kind for machines and a message safe to show
// to the caller. Internal details stay in the wrapped error and in logs.
type Error struct {
	Kind    Kind
	Message string
	// Fields says which input fields were wrong and why (KindInvalid).
	Fields []FieldError
	Err    error
}

// FieldError is one invalid input field: its JSON name and what is wrong.
type FieldError struct {
	Field   string
	Message string
}

// fieldErrors collects invalid fields of one request.
type fieldErrors []FieldError

func (f *fieldErrors) add(field, format string, args ...any) {
	*f = append(*f, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err returns nil when no field was wrong, else one KindInvalid error
// naming them all, so a form can show every problem at once.
func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	msg := f[0].Field + ": " + f[0].Message
	if len(f) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(f)-1)
	}
	return &Error{Kind: KindInvalid, Message: msg, Fields: f}
}

// InvalidField is a KindInvalid error about one request field (as the
// JSON spells it).
func InvalidField(field, message string) *Error {
	return &Error{Kind: KindInvalid, Message: message, Fields: []FieldError{{Field: field, Message: message}}}
}

// ErrorFields returns the field errors of err, if any.
func ErrorFields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Kind, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a domain error of the given kind.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// ErrorKind returns the kind of err, KindInternal when it carries none.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// ErrorMessage returns the user-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrRefreshTokenReused marks the presentation of a refresh token that was
// already exchanged: a replay. Its family is revoked by the time this is
// returned (wrapped in a KindNotFound error, so clients see the usual
// refusal).
var ErrRefreshTokenReused = errors.New("refresh token reused")
