package cti

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ringbridge/ringbridge/cti/ivr"
)

// Prompts are sounds administrators upload for IVR flows (docs/ivr.md,
// "Prompts"). An upload — WAV or MP3 in a common layout — is converted by
// the media engine (PromptDecoder) to 8 kHz mono 16-bit WAV, the form a
// call plays, and stored in the tenant's database rows with its metadata
// (PromptStore). A flow's play, menu and collect nodes name a prompt by
// id or name; a flow naming one that does not exist is refused, and a
// prompt that a flow's current version plays cannot be deleted.

// Prompt limits.
const (
	// MaxPromptSeconds is the longest prompt: at 8 kHz, 16-bit, that is
	// 4.8 MB stored.
	MaxPromptSeconds = 300
	// MaxPromptUpload is the largest file accepted (the edge refuses a
	// larger body before reading it).
	MaxPromptUpload = 16 << 20
	// PromptRate is the sample rate prompts are stored and played at.
	PromptRate = 8000
)

// Prompt is an uploaded sound's metadata.
type Prompt struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	DurationMs int       `json:"durationMs"`
	SizeBytes  int       `json:"sizeBytes"` // the stored 8 kHz WAV
	Source     AudioInfo `json:"source"`
	CreatedAt  time.Time `json:"createdAt"`
	CreatedBy  string    `json:"createdBy"`
}

// AudioInfo describes the file that was uploaded.
type AudioInfo struct {
	Filename string `json:"filename,omitempty"`
	Format   string `json:"format"`   // wav | mp3
	Encoding string `json:"encoding"` // pcm16, float32, mp3, …
	Rate     int    `json:"rate"`
	Channels int    `json:"channels"`
	Bytes    int    `json:"bytes"`
}

// DecodedPrompt is an upload converted for telephony.
type DecodedPrompt struct {
	WAV     []byte // 8 kHz mono 16-bit PCM WAV
	Samples int
	Source  AudioInfo
}

// PromptDecoder converts uploaded audio; the media engine implements it.
// A file it cannot take is a KindInvalid error that says why.
type PromptDecoder interface {
	DecodePrompt(r io.Reader, maxSeconds int) (*DecodedPrompt, error)
}

// PromptStore keeps a tenant's prompts.
type PromptStore interface {
	// CreatePrompt stores a prompt and its audio; KindConflict when the
	// tenant has a prompt of that name already.
	CreatePrompt(ctx context.Context, tenantID string, p *Prompt, wav []byte) error
	// GetPrompt finds a prompt by id or name; KindNotFound when none.
	GetPrompt(ctx context.Context, tenantID, ref string) (*Prompt, error)
	// ListPrompts returns the tenant's prompts by name.
	ListPrompts(ctx context.Context, tenantID string) ([]Prompt, error)
	// PromptAudio returns a prompt's stored WAV; KindNotFound when none.
	PromptAudio(ctx context.Context, tenantID, id string) ([]byte, error)
	// DeletePrompt removes a prompt; KindNotFound when none.
	DeletePrompt(ctx context.Context, tenantID, id string) error
}

var promptNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,59}$`)

// UploadPrompt converts an uploaded file and stores it under name.
func (s *Service) UploadPrompt(ctx context.Context, p Principal, name, filename string, data io.Reader) (*Prompt, error) {
	if err := p.require(rolesAdmin, "upload prompts"); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if !promptNameRE.MatchString(name) || strings.HasPrefix(name, "prm_") {
		return nil, InvalidField("name", "a prompt's name is 1 to 60 letters, digits, spaces, . _ or -, and does not start with prm_")
	}
	dec, ok := s.media.(PromptDecoder)
	if !ok || dec == nil {
		return nil, Errorf(KindUnavailable, "this server cannot convert audio")
	}
	if _, err := s.store.GetPrompt(ctx, p.TenantID, name); err == nil {
		return nil, Errorf(KindConflict, "there is a prompt named %q already; delete it first or choose another name", name)
	}
	audio, err := dec.DecodePrompt(data, MaxPromptSeconds)
	if err != nil {
		return nil, err
	}
	audio.Source.Filename = filename
	pr := &Prompt{
		ID: newID("prm"), Name: name, DurationMs: audio.Samples * 1000 / PromptRate, SizeBytes: len(audio.WAV),
		Source: audio.Source, CreatedAt: time.Now().UTC().Truncate(time.Millisecond), CreatedBy: p.Username,
	}
	if err := s.store.CreatePrompt(ctx, p.TenantID, pr, audio.WAV); err != nil {
		return nil, err
	}
	s.audit(ctx, p, p.TenantID, "prompt.create", pr.ID, map[string]any{
		"name": pr.Name, "durationMs": pr.DurationMs, "format": pr.Source.Format, "rate": pr.Source.Rate, "channels": pr.Source.Channels})
	return pr, nil
}

// ListPrompts returns the tenant's prompts.
func (s *Service) ListPrompts(ctx context.Context, p Principal) ([]Prompt, error) {
	if err := p.require(rolesReadAll, "read prompts"); err != nil {
		return nil, err
	}
	return s.store.ListPrompts(ctx, p.TenantID)
}

// GetPrompt returns a prompt by id or name.
func (s *Service) GetPrompt(ctx context.Context, p Principal, ref string) (*Prompt, error) {
	if err := p.require(rolesReadAll, "read prompts"); err != nil {
		return nil, err
	}
	return s.store.GetPrompt(ctx, p.TenantID, ref)
}

// PromptAudio returns a prompt's metadata and its 8 kHz WAV.
func (s *Service) PromptAudio(ctx context.Context, p Principal, ref string) (*Prompt, []byte, error) {
	pr, err := s.GetPrompt(ctx, p, ref)
	if err != nil {
		return nil, nil, err
	}
	wav, err := s.promptWAV(ctx, p.TenantID, pr.ID)
	return pr, wav, err
}

// DeletePrompt removes a prompt that no flow's current version plays.
func (s *Service) DeletePrompt(ctx context.Context, p Principal, ref string) error {
	if err := p.require(rolesAdmin, "delete prompts"); err != nil {
		return err
	}
	pr, err := s.store.GetPrompt(ctx, p.TenantID, ref)
	if err != nil {
		return err
	}
	flows, err := s.store.ListIVRFlows(ctx, p.TenantID)
	if err != nil {
		return err
	}
	var users []string
	for _, fv := range flows {
		if flowPlays(&fv.Flow, pr) {
			users = append(users, fv.Flow.ID)
		}
	}
	if len(users) > 0 {
		return Errorf(KindConflict, "prompt %q is played by IVR flow %s; change %s first",
			pr.Name, strings.Join(users, ", "), map[bool]string{true: "that flow", false: "those flows"}[len(users) == 1])
	}
	if err := s.store.DeletePrompt(ctx, p.TenantID, pr.ID); err != nil {
		return err
	}
	s.prompts.forget(p.TenantID, pr.ID)
	s.audit(ctx, p, p.TenantID, "prompt.delete", pr.ID, map[string]any{"name": pr.Name})
	return nil
}

// flowPlays tells whether any node of f plays pr (named by id or name).
func flowPlays(f *ivr.Flow, pr *Prompt) bool {
	for _, n := range f.Nodes {
		if slices.ContainsFunc(n.Say, func(s ivr.Sound) bool { return s.Prompt == pr.ID || s.Prompt == pr.Name }) {
			return true
		}
	}
	return false
}

// checkFlowPrompts refuses a flow that plays a prompt the tenant does not
// have, naming the node.
func (s *Service) checkFlowPrompts(ctx context.Context, tenantID string, f *ivr.Flow) error {
	for _, n := range f.Nodes {
		for _, snd := range n.Say {
			if snd.Prompt == "" {
				continue
			}
			_, err := s.store.GetPrompt(ctx, tenantID, snd.Prompt)
			if ErrorKind(err) == KindNotFound {
				return ivrError(&ivr.Error{Node: n.ID, Message: fmt.Sprintf("plays prompt %q, which does not exist", snd.Prompt)})
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// checkVersionPrompts is checkFlowPrompts for a stored version about to
// become current again (a rollback to a version whose prompt has since
// been deleted is refused).
func (s *Service) checkVersionPrompts(ctx context.Context, tenantID, flowID string, version int) error {
	fv, err := s.store.GetIVRFlow(ctx, tenantID, flowID, version)
	if err != nil {
		return err
	}
	return s.checkFlowPrompts(ctx, tenantID, &fv.Flow)
}

// promptWAV returns a prompt's audio, from the cache when it is there.
// A prompt's audio never changes under its id, so the cache needs no
// invalidation beyond forgetting deleted ones.
func (s *Service) promptWAV(ctx context.Context, tenantID, id string) ([]byte, error) {
	if b := s.prompts.get(tenantID, id); b != nil {
		return b, nil
	}
	b, err := s.store.PromptAudio(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	s.prompts.put(tenantID, id, b)
	return b, nil
}

// promptSound is what a call plays for a flow's {"prompt": ref}; false
// when the prompt cannot be read (it was deleted, or the store failed),
// and the call then goes on without it.
func (c *Call) promptSound(ref string) (Sound, bool) {
	pr, err := c.svc.store.GetPrompt(c.ctx, c.info.TenantID, ref)
	if err == nil {
		var wav []byte
		if wav, err = c.svc.promptWAV(c.ctx, c.info.TenantID, pr.ID); err == nil {
			return Sound{Audio: wav, Length: time.Duration(pr.DurationMs) * time.Millisecond}, true
		}
	}
	c.log.Warn("IVR prompt cannot be played", "prompt", ref, "err", err)
	return Sound{}, false
}
