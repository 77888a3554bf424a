package server

import (
	"bytes"
	"context"
	"io"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/ringbridge/ringbridge/cti"
)

// IVR prompts (docs/ivr.md, "Prompts"): admins upload WAV or MP3 audio,
// which is converted to 8 kHz mono; admins, supervisors and integrations
// list and play them back.

// promptsPath is the upload route, the one request allowed a body larger
// than bodyLimit.
const promptsPath = "/api/v1/prompts"

// promptBodyLimit is the upload's body limit: the file plus room for the
// multipart framing and the name.
const promptBodyLimit = cti.MaxPromptUpload + 64<<10

// bodyLimitFor raises the body limit for prompt uploads by an
// administrator only; it runs on the request's headers, before the body
// is read, so every other request is refused over bodyLimit unread and
// nobody without an admin's token or an API key can make the server
// buffer an upload's worth of bytes. (The handler checks the credentials
// again, as for any request.)
func (s *Server) bodyLimitFor(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	uri := h.RequestURI()
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	if string(h.Method()) != fiber.MethodPost || string(uri) != promptsPath || !s.mayUpload(string(h.Peek(fiber.HeaderAuthorization))) {
		return fasthttp.RequestConfig{}
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: promptBodyLimit}
}

// mayUpload tells whether an Authorization header carries an admin's
// access token or a valid API key: both cheap to check (an HMAC, a
// SHA-256 and one read), unlike a password.
func (s *Server) mayUpload(header string) bool {
	token, ok := bearerToken(header)
	if !ok {
		return false
	}
	if strings.HasPrefix(token, cti.APIKeyPrefix) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		p, err := s.svc.AuthenticateAPIKey(ctx, token)
		return err == nil && p.Role == cti.RoleAdmin
	}
	p, err := s.tokens.verify(token)
	return err == nil && p.Role == cti.RoleAdmin
}

// audioTypes are the raw-body content types an upload may have.
var audioTypes = []string{"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/mpeg", "audio/mp3", "application/octet-stream"}

// postPrompt takes multipart/form-data (fields "name" and "file") or the
// raw file as the body with ?name=.
func (s *Server) postPrompt(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	ct := c.Get(fiber.HeaderContentType)
	mt, _, _ := mime.ParseMediaType(ct)
	var name, filename string
	var data io.Reader
	switch {
	case mt == fiber.MIMEMultipartForm:
		fh, err := c.FormFile("file")
		if err != nil {
			return cti.InvalidField("file", "the form has no file field holding the audio")
		}
		f, err := fh.Open()
		if err != nil {
			return badRequest("the uploaded file cannot be read")
		}
		defer f.Close()
		name, filename, data = c.FormValue("name"), fh.Filename, f
		if name == "" {
			name = strings.TrimSuffix(fh.Filename, fileExt(fh.Filename))
		}
	case containsString(audioTypes, mt):
		name, filename, data = c.Query("name"), c.Query("filename"), bytes.NewReader(c.Body())
	default:
		return fiber.NewError(fiber.StatusUnsupportedMediaType,
			"send the audio as multipart/form-data (fields name and file) or as the body with Content-Type audio/wav or audio/mpeg, got "+strconv.Quote(ct))
	}
	if len(filename) > 200 {
		filename = filename[:200]
	}
	// Form and query values point into fasthttp's reused buffers; the
	// prompt keeps its name and file name.
	name, filename = strings.Clone(name), strings.Clone(filename)
	pr, err := s.svc.UploadPrompt(c.UserContext(), p, name, filename, data)
	if err != nil {
		return err
	}
	c.Location(promptsPath + "/" + pr.ID)
	return c.Status(fiber.StatusCreated).JSON(pr)
}

func fileExt(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Server) listPrompts(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	list, err := s.svc.ListPrompts(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(listJSON[cti.Prompt]{Items: list})
}

func (s *Server) getPrompt(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	pr, err := s.svc.GetPrompt(c.UserContext(), p, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(pr)
}

// getPromptAudio serves the converted audio as WAV.
func (s *Server) getPromptAudio(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	pr, wav, err := s.svc.PromptAudio(c.UserContext(), p, c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "audio/wav")
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set(fiber.HeaderContentDisposition, `inline; filename="`+pr.ID+`.wav"`)
	return c.Send(wav)
}

func (s *Server) deletePrompt(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeletePrompt(c.UserContext(), p, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
