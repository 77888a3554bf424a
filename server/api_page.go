package server

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

// listJSON is every paginated list: the items and the cursor of the next
// page, "" (omitted) on the last one.
type listJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// pageOf reads ?limit= and ?cursor=.
func pageOf(c *fiber.Ctx) (cti.Page, error) {
	p := cti.Page{Cursor: strings.Clone(c.Query("cursor"))}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > cti.MaxPageLimit {
			return p, badRequest("limit must be a number from 1 to %d", cti.MaxPageLimit)
		}
		p.Limit = n
	}
	return p, nil
}
