package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

// problem is an RFC 9457 problem details object. Type stays "about:blank"
// until we publish documentation pages per problem type; with it the title
// must be the status phrase, which keeps clients from parsing titles.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors lists invalid request fields (an RFC 9457 extension member),
	// so a form can mark each one.
	Errors []fieldProblem `json:"errors,omitempty"`
}

type fieldProblem struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

const problemContentType = "application/problem+json"

// genericDetail is all a client learns about a server fault; the cause is
// logged instead, so stack traces and SQL never reach the network.
const genericDetail = "internal error; see the server log"

// httpStatus maps a domain error kind to the HTTP status of its problem.
func httpStatus(k cti.Kind) int {
	switch k {
	case cti.KindNotFound:
		return fiber.StatusNotFound
	case cti.KindInvalid:
		return fiber.StatusBadRequest
	case cti.KindUnauthorized:
		return fiber.StatusUnauthorized
	case cti.KindForbidden:
		return fiber.StatusForbidden
	case cti.KindConflict, cti.KindBusy:
		return fiber.StatusConflict
	case cti.KindUnavailable:
		return fiber.StatusServiceUnavailable
	case cti.KindRateLimited:
		return fiber.StatusTooManyRequests
	default:
		return fiber.StatusInternalServerError
	}
}

// handleError is Fiber's ErrorHandler: every error a handler returns, and
// fasthttp's own (body too large, header too large, timeouts), becomes a
// problem+json response.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	p := problem{Type: "about:blank"}
	var fe *fiber.Error
	var de *cti.Error
	var te *errThrottled
	switch {
	case errors.As(err, &te):
		p.Status, p.Detail = fiber.StatusTooManyRequests, te.Error()
	case errors.As(err, &fe):
		p.Status, p.Detail = fe.Code, fe.Message
	case errors.As(err, &de) && de.Kind != cti.KindInternal:
		p.Status, p.Detail = httpStatus(de.Kind), de.Message
		for _, f := range de.Fields {
			p.Errors = append(p.Errors, fieldProblem{Field: f.Field, Detail: f.Message})
		}
	default:
		p.Status, p.Detail = fiber.StatusInternalServerError, genericDetail
	}
	p.Title = http.StatusText(p.Status)
	if p.Title == "" {
		p.Title = "Error"
	}
	if p.Detail == p.Title {
		p.Detail = ""
	}

	attrs := []any{"method", c.Method(), "path", c.Path(), "status", p.Status, "err", err}
	switch {
	case p.Status == fiber.StatusInternalServerError:
		s.log.Error("request failed", attrs...)
	case p.Status > 500:
		// Unavailable and friends are expected while draining or degraded.
		s.log.Warn("request failed", attrs...)
	default:
		s.log.Debug("request rejected", attrs...)
	}

	body, merr := json.Marshal(p)
	if merr != nil {
		return fmt.Errorf("marshal problem: %w", merr)
	}
	c.Set(fiber.HeaderContentType, problemContentType)
	return c.Status(p.Status).Send(body)
}

// errPanic is what a recovered panic turns into; its message is generic on
// purpose, the panic value goes to the log only.
var errPanic = errors.New("handler panicked")

// recoverPanic replaces Fiber's recover middleware, whose default handler
// echoes the panic value to the client.
func (s *Server) recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in http handler", "method", c.Method(), "path", c.Path(),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = errPanic
		}
	}()
	return c.Next()
}

// badRequest is a 400 problem with a detail meant for the client developer.
func badRequest(format string, args ...any) error {
	return fiber.NewError(fiber.StatusBadRequest, fmt.Sprintf(format, args...))
}

// decodeJSON strictly decodes a JSON request body into v. Requiring the
// JSON content type also keeps cross-site HTML forms (which cannot send it
// without a CORS preflight) from reaching the handlers.
func decodeJSON(c *fiber.Ctx, v any) error {
	ct := c.Get(fiber.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != fiber.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
		return fiber.NewError(fiber.StatusUnsupportedMediaType,
			fmt.Sprintf("Content-Type must be application/json, got %q", ct))
	}
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return badRequest("request body is empty; expected a JSON object")
		}
		return badRequest("%s", describeJSONError(err))
	}
	if dec.More() {
		return badRequest("unexpected data after the JSON object")
	}
	return nil
}

// describeJSONError turns a decoding error into a sentence that tells the
// client what to fix, shared by the REST API and the websocket.
func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, se.Error())
	case errors.As(err, &te) && te.Field != "":
		return fmt.Sprintf("field %q must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
	case errors.As(err, &te):
		return fmt.Sprintf("expected a JSON object, not %s", te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of input"
	}
	// DisallowUnknownFields and the rest have no typed error; their text
	// ("json: unknown field \"x\"") is already precise.
	return "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	if strings.HasPrefix(k, "int") || strings.HasPrefix(k, "uint") || strings.HasPrefix(k, "float") {
		return "a number"
	}
	return "a " + k
}
