package cti

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Call recording: an answered call is recorded by the voice path (the
// Recorder port) as its recording policy says (recording_control.go).
// The recording starts when the call is answered, follows the call across relinks
// (moved sessions, blind transfers: it is attached to each new
// Connection, and time with nothing linked is silence) and stops when the
// call ends. The finished file is registered in the store, named in the
// call record, and announced with recording.ready.

// RecordingMeta is a finished recording as the store keeps it.
type RecordingMeta struct {
	ID              string    `json:"id"`
	TenantID        string    `json:"tenantId"`
	CallID          string    `json:"callId"`
	Path            string    `json:"-"` // on this server's disk; never published
	DurationSeconds float64   `json:"durationSeconds"`
	SizeBytes       int64     `json:"sizeBytes"`
	CreatedAt       time.Time `json:"createdAt"`
	// Storage is where the file is now: "local" (Path) or "s3" (Key in
	// the configured bucket).
	Storage string `json:"storage,omitempty"`
	// Key names the file in RecordingStorage: "<tenant>/<id>.wav".
	Key string `json:"-"`
	// UploadPending is set while the file waits to go to the configured
	// storage (recording_storage.go).
	UploadPending bool `json:"-"`
	// UploadAttempts counts failed uploads.
	UploadAttempts int `json:"-"`
}

// RecordingReady is the data of a recording.ready event.
type RecordingReady struct {
	RecordingMeta
	// Voicemail marks a caller's message (a queue's voicemail overflow).
	Voicemail   bool   `json:"voicemail,omitempty"`
	Code        string `json:"code"`
	URL         string `json:"url"`
	ContentType string `json:"contentType"`
}

// RecordingStore keeps recordings' metadata, tenant-scoped.
type RecordingStore interface {
	RecordingPolicyStore
	SaveRecording(ctx context.Context, r *RecordingMeta) error
	// GetRecording returns a tenant's recording; KindNotFound when the
	// tenant has none with that id (or it was deleted).
	GetRecording(ctx context.Context, tenantID, id string) (*RecordingMeta, error)
	// PendingRecordingUploads returns recordings, of any tenant, waiting
	// to be uploaded whose next attempt is due at now, oldest first.
	PendingRecordingUploads(ctx context.Context, now time.Time, limit int) ([]RecordingMeta, error)
	// RecordingStored notes that a recording's file is now in storage.
	RecordingStored(ctx context.Context, tenantID, id, storage string) error
	// RecordingUploadFailed counts a failed upload and sets the next try.
	RecordingUploadFailed(ctx context.Context, tenantID, id string, next time.Time) error
	// ExpiredRecordings returns a tenant's recordings created before
	// before, oldest first.
	ExpiredRecordings(ctx context.Context, tenantID string, before time.Time, limit int) ([]RecordingMeta, error)
	// MarkRecordingDeleted notes that a recording's file was deleted;
	// GetRecording no longer finds it.
	MarkRecordingDeleted(ctx context.Context, tenantID, id string, at time.Time) error
}

// RecordingContentType is the media type of every recording.
const RecordingContentType = "audio/wav"

// recordingURL is where a code is downloaded.
func recordingURL(code string) string { return "/api/v1/recordings/" + code }

// recordingTagLen is the length of the HMAC tag in a download code.
const recordingTagLen = 16

var codeEncoding = base64.RawURLEncoding

// recordingCode returns the opaque download code of a recording id:
// base64url(id ‖ HMAC-SHA256(secret, id)[:16]). Without the secret a code
// can be neither guessed nor derived from another.
func recordingCode(secret []byte, id string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("ringbridge recording\x00" + id))
	return codeEncoding.EncodeToString(append([]byte(id), mac.Sum(nil)[:recordingTagLen]...))
}

// parseRecordingCode returns the recording id a code names, or
// KindInvalid when it is not a code this server issued.
func parseRecordingCode(secret []byte, code string) (string, error) {
	bad := Errorf(KindInvalid, "not a recording code")
	if len(code) > 200 {
		return "", bad
	}
	raw, err := codeEncoding.DecodeString(code)
	if err != nil || len(raw) <= recordingTagLen {
		return "", bad
	}
	id := string(raw[:len(raw)-recordingTagLen])
	if !strings.HasPrefix(id, "rec_") || !hmac.Equal([]byte(recordingCode(secret, id)), []byte(code)) {
		return "", bad
	}
	return id, nil
}

// finishRecording stops the call's recording, registers the file and
// puts its reference in the call's history. It returns the recording.ready
// data, or nil when there is nothing to announce.
func (s *Service) finishRecording(log *slog.Logger, c *Call) *RecordingReady {
	if c.rec == nil {
		return nil
	}
	started := c.stopControl()
	f, err := c.rec.Stop()
	c.rec = nil
	if err != nil {
		log.Error("finishing the recording", "recording", c.recID, "err", err)
		return nil
	}
	if !started {
		// On demand and never started: nothing was recorded.
		if err := os.Remove(f.Path); err != nil {
			log.Warn("removing an unstarted recording", "recording", c.recID, "err", err)
		}
		return nil
	}
	meta := RecordingMeta{ID: c.recID, TenantID: c.info.TenantID, CallID: c.ID(), Path: f.Path,
		DurationSeconds: seconds(f.Duration), SizeBytes: f.Size, CreatedAt: time.Now().UTC()}
	ref, ready := s.registerRecording(log, meta)
	if ref == nil {
		return nil
	}
	ready.Voicemail = c.voicemail
	c.mu.Lock()
	c.hist.recording = ref
	c.mu.Unlock()
	return ready
}

// registerRecording stores a finished recording's metadata and returns the
// reference for the call record and the recording.ready data; nil, nil
// when it could not be stored (a code for an unregistered file would only
// ever 404).
func (s *Service) registerRecording(log *slog.Logger, meta RecordingMeta) (*RecordingRef, *RecordingReady) {
	s.planUpload(&meta)
	if s.store != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 5*time.Second)
		err := s.store.SaveRecording(ctx, &meta)
		cancel()
		if err != nil {
			log.Error("registering the recording", "recording", meta.ID, "path", meta.Path, "err", err)
			return nil, nil
		}
		if meta.UploadPending {
			s.kickUploads()
		}
	}
	code := recordingCode(s.cfg.RecordingSecret, meta.ID)
	ref := &RecordingRef{Code: code, URL: recordingURL(code), DurationSeconds: meta.DurationSeconds}
	if s.tenant(meta.TenantID).RecordingDelivery == RecordingInline {
		ref = inlineRecording(log, meta, ref)
	}
	return ref, &RecordingReady{RecordingMeta: meta, Code: code, URL: recordingURL(code), ContentType: RecordingContentType}
}

// inlineRecording returns the recording as base64, or the code with a
// note when the file is too large or unreadable.
func inlineRecording(log *slog.Logger, meta RecordingMeta, byCode *RecordingRef) *RecordingRef {
	if meta.SizeBytes > MaxInlineRecording {
		byCode.Note = "recording too large to inline; download it with the code"
		return byCode
	}
	b, err := os.ReadFile(meta.Path)
	if err != nil {
		log.Error("reading the recording to inline it", "recording", meta.ID, "err", err)
		byCode.Note = "recording could not be inlined; download it with the code"
		return byCode
	}
	return &RecordingRef{Base64: base64.StdEncoding.EncodeToString(b), DurationSeconds: meta.DurationSeconds}
}

// OpenRecording returns a recording named by its download code and the
// whole file's content (see OpenRecordingRange).
func (s *Service) OpenRecording(ctx context.Context, p Principal, code string) (*RecordingMeta, io.ReadCloser, error) {
	meta, open, err := s.OpenRecordingRange(ctx, p, code)
	if err != nil {
		return nil, nil, err
	}
	body, err := open(0, -1)
	if err != nil {
		return nil, nil, err
	}
	return meta, body, nil
}

// RecordingOpener reads n bytes of a recording from offset off (n < 0:
// to the end).
type RecordingOpener func(off, n int64) (io.ReadCloser, error)

// OpenRecordingRange returns a recording named by its download code and
// a way to read any byte range of it, wherever it is stored (a browser
// player seeks with HTTP Range). Integrations, admins and supervisors may
// fetch any of their tenant's recordings, agents those of calls they took
// part in. A malformed or forged code is KindInvalid; another tenant's
// recording, or one deleted by retention, is indistinguishable from none
// (KindNotFound).
func (s *Service) OpenRecordingRange(ctx context.Context, p Principal, code string) (*RecordingMeta, RecordingOpener, error) {
	if err := p.require(rolesReadPhonebook, "download recordings"); err != nil {
		return nil, nil, err
	}
	id, err := parseRecordingCode(s.cfg.RecordingSecret, code)
	if err != nil {
		return nil, nil, err
	}
	meta, err := s.store.GetRecording(ctx, p.TenantID, id)
	if err != nil {
		return nil, nil, err
	}
	notFound := Errorf(KindNotFound, "no recording %s", code)
	if p.Role == RoleAgent {
		rec, err := s.store.GetCallRecord(ctx, p.TenantID, meta.CallID)
		if err != nil || !canSeeCall(p, rec) {
			return nil, nil, notFound
		}
	}
	open := func(off, n int64) (io.ReadCloser, error) {
		body, err := s.readRecording(ctx, meta, off, n)
		if ErrorKind(err) == KindNotFound {
			s.log.Error("recording file missing", "recording", meta.ID, "storage", meta.Storage, "path", meta.Path)
			return nil, notFound
		}
		if err != nil {
			return nil, &Error{Kind: KindInternal, Message: "cannot read the recording", Err: err}
		}
		return body, nil
	}
	return meta, open, nil
}

// RecordingCode returns the download code of a recording id, as call
// records and recording.ready carry it (for tools and tests).
func (s *Service) RecordingCode(id string) string { return recordingCode(s.cfg.RecordingSecret, id) }
