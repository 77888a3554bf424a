package cti

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

// Recording storage: a finished recording is registered with its file on
// this server's disk (where the recorder wrote it). When the configured
// RecordingStorage is not the local directory, the row is marked
// UploadPending in the same write, and the upload job moves the file to
// the store (then removes the local copy); the pending mark lives in the
// database, so a crash at any point loses nothing: the next start uploads
// what is still pending (a repeated upload replaces the same key).
// Retention deletes a tenant's recordings older than its
// RecordingRetentionDays, wherever they are, and audits each deletion.

// Where a recording's file is (RecordingMeta.Storage).
const (
	StorageLocal = "local"
	StorageS3    = "s3"
)

// RecordingStorage keeps finished recordings' files by key
// ("<tenant>/<id>.wav"). Implementations: cti/recstore.
type RecordingStorage interface {
	// Name is what RecordingMeta.Storage records: StorageLocal or
	// StorageS3.
	Name() string
	// Put stores the file at localPath under key, replacing any object
	// there (so a repeated upload after a crash is harmless).
	Put(ctx context.Context, key, localPath string) error
	// Open returns n bytes from offset off (n < 0: to the end) and the
	// object's whole size; KindNotFound when there is no such object.
	Open(ctx context.Context, key string, off, n int64) (io.ReadCloser, int64, error)
	// Delete removes the object; a missing one is no error.
	Delete(ctx context.Context, key string) error
}

// recordingJobs are the upload job's state (one per Service).
type recordingJobs struct {
	storage RecordingStorage
	kick    chan struct{} // capacity 1: "there may be work"; made by New
	mu      sync.Mutex    // one upload pass at a time
}

// SetRecordingStorage sets where finished recordings go (nil or a local
// storage: they stay on this server's disk). Call it before serving.
func (s *Service) SetRecordingStorage(st RecordingStorage) {
	s.jobs.storage = st
}

// recordingKey is a recording's key in storage.
func recordingKey(tenantID, id string) string { return tenantID + "/" + id + ".wav" }

// planUpload fills in where a newly finished recording is and whether it
// must be uploaded.
func (s *Service) planUpload(meta *RecordingMeta) {
	meta.Storage, meta.Key = StorageLocal, recordingKey(meta.TenantID, meta.ID)
	meta.UploadPending = s.jobs.storage != nil && s.jobs.storage.Name() != StorageLocal
}

// kickUploads wakes the upload job without waiting.
func (s *Service) kickUploads() {
	select {
	case s.jobs.kick <- struct{}{}:
	default:
	}
}

// readRecording opens a byte range of a recording wherever it is.
func (s *Service) readRecording(ctx context.Context, meta *RecordingMeta, off, n int64) (io.ReadCloser, error) {
	if meta.Storage != "" && meta.Storage != StorageLocal {
		if s.jobs.storage == nil || s.jobs.storage.Name() != meta.Storage {
			return nil, fmt.Errorf("recording %s is in %s storage, which is not configured", meta.ID, meta.Storage)
		}
		body, _, err := s.jobs.storage.Open(ctx, meta.Key, off, n)
		return body, err
	}
	f, err := os.Open(meta.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Errorf(KindNotFound, "no recording file")
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	if n < 0 {
		return f, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, n), f}, nil
}

// RecordingJobOptions tune RunRecordingJobs; zero values take defaults.
type RecordingJobOptions struct {
	// Retry is the first wait after a failed upload (default 10 s); it
	// doubles up to an hour.
	Retry time.Duration
	// RetentionEvery is how often retention runs (default an hour).
	RetentionEvery time.Duration
}

// RunRecordingJobs uploads pending recordings (at once when a call's
// recording is registered, and every retry interval) and applies
// retention, until ctx ends. The caller owns the goroutine that runs it.
func (s *Service) RunRecordingJobs(ctx context.Context, o RecordingJobOptions) {
	if o.Retry <= 0 {
		o.Retry = 10 * time.Second
	}
	if o.RetentionEvery <= 0 {
		o.RetentionEvery = time.Hour
	}
	poll := time.NewTicker(o.Retry)
	defer poll.Stop()
	retention := time.NewTicker(o.RetentionEvery)
	defer retention.Stop()
	kick := s.jobs.kick
	s.UploadPendingRecordings(ctx, o.Retry)
	s.ApplyRecordingRetention(ctx, time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-poll.C:
		case <-retention.C:
			s.ApplyRecordingRetention(ctx, time.Now())
			continue
		}
		s.UploadPendingRecordings(ctx, o.Retry)
	}
}

// UploadPendingRecordings uploads every recording whose upload is due
// and returns how many went up. A failed upload is tried again after
// retry, doubling per attempt (the store counts them).
func (s *Service) UploadPendingRecordings(ctx context.Context, retry time.Duration) int {
	st := s.jobs.storage
	if st == nil || st.Name() == StorageLocal {
		return 0
	}
	s.jobs.mu.Lock()
	defer s.jobs.mu.Unlock()
	done := 0
	for ctx.Err() == nil {
		pending, err := s.store.PendingRecordingUploads(ctx, time.Now(), 20)
		if err != nil {
			s.log.Error("listing recordings to upload", "err", err)
			return done
		}
		if len(pending) == 0 {
			return done
		}
		progress := false
		for _, m := range pending {
			if err := s.uploadRecording(ctx, st, m); err != nil {
				s.log.Warn("uploading a recording; will retry", "recording", m.ID, "err", err)
				if ferr := s.store.RecordingUploadFailed(ctx, m.TenantID, m.ID, time.Now().Add(retry)); ferr != nil {
					s.log.Error("noting a failed upload", "recording", m.ID, "err", ferr)
					return done
				}
				continue
			}
			done++
			progress = true
		}
		if !progress {
			return done
		}
	}
	return done
}

// uploadRecording puts one file in storage, notes it, then removes the
// local copy (a crash before the note uploads it again).
func (s *Service) uploadRecording(ctx context.Context, st RecordingStorage, m RecordingMeta) error {
	if err := st.Put(ctx, m.Key, m.Path); err != nil {
		return err
	}
	if err := s.store.RecordingStored(ctx, m.TenantID, m.ID, st.Name()); err != nil {
		return err
	}
	if err := os.Remove(m.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("removing an uploaded recording's local copy", "recording", m.ID, "err", err)
	}
	s.log.Info("recording uploaded", "recording", m.ID, "storage", st.Name(), "key", m.Key)
	return nil
}

// retentionActor is who the audit log names for retention's deletions.
var retentionActor = Principal{UserID: "system", Username: "retention"}

// ApplyRecordingRetention deletes, for every tenant with a retention,
// the recordings older than it (the file wherever it is, then the row's
// mark), each with an audit entry; it returns how many it deleted.
func (s *Service) ApplyRecordingRetention(ctx context.Context, now time.Time) int {
	tenants, err := s.store.ListTenants(ctx)
	if err != nil {
		s.log.Error("retention: listing tenants", "err", err)
		return 0
	}
	deleted := 0
	for _, t := range tenants {
		days := s.tenant(t.ID).RecordingRetentionDays
		if days <= 0 {
			continue
		}
		cutoff := now.Add(-time.Duration(days) * 24 * time.Hour)
		for ctx.Err() == nil {
			old, err := s.store.ExpiredRecordings(ctx, t.ID, cutoff, 50)
			if err != nil {
				s.log.Error("retention: listing recordings", "tenant", t.ID, "err", err)
				break
			}
			n := 0
			for _, m := range old {
				if err := s.deleteRecordingFile(ctx, m); err != nil {
					s.log.Warn("retention: deleting a recording; will retry", "recording", m.ID, "err", err)
					continue
				}
				if err := s.store.MarkRecordingDeleted(ctx, t.ID, m.ID, now); err != nil {
					s.log.Error("retention: marking a recording deleted", "recording", m.ID, "err", err)
					continue
				}
				s.audit(ctx, retentionActor, t.ID, "recording.delete", m.ID, map[string]any{
					"callId": m.CallID, "createdAt": m.CreatedAt, "storage": m.Storage, "retentionDays": days})
				n++
			}
			deleted += n
			if n == 0 || len(old) < 50 {
				break
			}
		}
	}
	return deleted
}

// deleteRecordingFile removes a recording's file wherever it is.
func (s *Service) deleteRecordingFile(ctx context.Context, m RecordingMeta) error {
	if m.Storage != "" && m.Storage != StorageLocal {
		if s.jobs.storage == nil || s.jobs.storage.Name() != m.Storage {
			return fmt.Errorf("recording in %s storage, which is not configured", m.Storage)
		}
		return s.jobs.storage.Delete(ctx, m.Key)
	}
	if err := os.Remove(m.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// playLinkTTL is how long a play link works.
const playLinkTTL = 15 * time.Minute

// RecordingPlayLink is a short-lived URL a browser's audio element can
// fetch (and seek in, with Range) without an Authorization header.
type RecordingPlayLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// RecordingPlayLink issues a play link for a recording the principal may
// download: the link names the tenant and an expiry, signed with the
// recording secret, and works for playLinkTTL.
func (s *Service) RecordingPlayLink(ctx context.Context, p Principal, code string, now time.Time) (RecordingPlayLink, error) {
	if _, _, err := s.OpenRecordingRange(ctx, p, code); err != nil {
		return RecordingPlayLink{}, err
	}
	exp := now.Add(playLinkTTL).Unix()
	q := url.Values{"t": {p.TenantID}, "exp": {strconv.FormatInt(exp, 10)}, "sig": {s.playSignature(p.TenantID, code, exp)}}
	return RecordingPlayLink{URL: recordingURL(code) + "/play?" + q.Encode(), ExpiresAt: time.Unix(exp, 0).UTC()}, nil
}

func (s *Service) playSignature(tenantID, code string, exp int64) string {
	mac := hmac.New(sha256.New, s.cfg.RecordingSecret)
	fmt.Fprintf(mac, "ringbridge play\x00%s\x00%s\x00%d", tenantID, code, exp)
	return codeEncoding.EncodeToString(mac.Sum(nil))
}

// OpenRecordingByLink is OpenRecordingRange for a play link's
// parameters; an expired or forged link is KindUnauthorized.
func (s *Service) OpenRecordingByLink(ctx context.Context, tenantID, code, exp, sig string, now time.Time) (*RecordingMeta, RecordingOpener, error) {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !hmac.Equal([]byte(sig), []byte(s.playSignature(tenantID, code, e))) {
		return nil, nil, Errorf(KindUnauthorized, "not a valid play link")
	}
	if now.Unix() > e {
		return nil, nil, Errorf(KindUnauthorized, "the play link has expired; ask for a new one")
	}
	// Who may play was checked when the link was issued.
	return s.OpenRecordingRange(ctx, Principal{TenantID: tenantID, Role: RoleAPI}, code)
}
