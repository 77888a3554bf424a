package sqlstore

import (
	"encoding/base64"
	"strings"

	"github.com/ringbridge/ringbridge/cti"
)

// Cursors are opaque to clients: the sort key of the last row of a page,
// base64url-encoded. A cursor only narrows a query that is already scoped
// to the caller's tenant, so a forged one can reveal nothing.

const cursorSep = "\x1f"

func encodeCursor(parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, cursorSep)))
}

// decodeCursor returns the n parts of a cursor; "" decodes to nil.
func decodeCursor(c string, n int) ([]string, error) {
	if c == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, cti.Errorf(cti.KindInvalid, "malformed cursor")
	}
	parts := strings.Split(string(b), cursorSep)
	if len(parts) != n {
		return nil, cti.Errorf(cti.KindInvalid, "malformed cursor")
	}
	return parts, nil
}
