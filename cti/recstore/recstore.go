// Package recstore keeps finished call recordings: Local, a directory on
// this server (the default), and S3, any S3-compatible object store (AWS
// S3, SeaweedFS, MinIO, Ceph RGW, …) through minio-go. Both implement
// cti.RecordingStorage; the service uploads a recording after its call
// ends and reads byte ranges of it for downloads (docs/recordings.md).
//
// # Concurrency
//
// Every method is safe for concurrent use; neither type holds state
// besides its configuration and, for S3, minio-go's client (itself safe
// for concurrent use).
package recstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ringbridge/ringbridge/cti"
)

var (
	_ cti.RecordingStorage = (*Local)(nil)
	_ cti.RecordingStorage = (*S3)(nil)
)

// Local keeps recordings as files under Root (<Root>/<tenant>/<id>.wav,
// where the recorder writes them, so storing one moves nothing).
type Local struct{ Root string }

// Name implements cti.RecordingStorage.
func (l *Local) Name() string { return cti.StorageLocal }

// path maps a key to a file under Root, refusing keys that would leave it.
func (l *Local) path(key string) (string, error) {
	clean := filepath.Clean("/" + key)
	if key == "" || clean != "/"+key || strings.Contains(key, "\\") {
		return "", cti.Errorf(cti.KindInvalid, "recording key %q", key)
	}
	return filepath.Join(l.Root, filepath.FromSlash(key)), nil
}

// Put implements cti.RecordingStorage: the file is moved under Root unless
// it is there already.
func (l *Local) Put(_ context.Context, key, localPath string) error {
	dst, err := l.path(key)
	if err != nil {
		return err
	}
	if filepath.Clean(localPath) == dst {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return fmt.Errorf("recstore: %w", err)
	}
	if err := os.Rename(localPath, dst); err != nil {
		return fmt.Errorf("recstore: %w", err)
	}
	return nil
}

// Open implements cti.RecordingStorage.
func (l *Local) Open(_ context.Context, key string, off, n int64) (io.ReadCloser, int64, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, cti.Errorf(cti.KindNotFound, "no recording file %s", key)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("recstore: %w", err)
	}
	st, err := f.Stat()
	if err == nil && off > 0 {
		_, err = f.Seek(off, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("recstore: %w", err)
	}
	if n < 0 {
		return f, st.Size(), nil
	}
	return readCloser{io.LimitReader(f, n), f}, st.Size(), nil
}

// Delete implements cti.RecordingStorage.
func (l *Local) Delete(_ context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recstore: %w", err)
	}
	return nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
