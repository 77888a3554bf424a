package recstore_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/recstore"
	"github.com/ringbridge/ringbridge/cti/recstore/s3test"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"), goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"), goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// Both stores: a put file reads back whole and by byte range, a missing
// key is KindNotFound, and delete is idempotent.
func TestStores(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	bucket := func(cfg recstore.S3Config) *recstore.S3 {
		s3, err := recstore.NewS3(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s3.EnsureBucket(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s3.EnsureBucket(ctx); err != nil {
			t.Fatalf("bucket already there: %v", err)
		}
		return s3
	}
	stores := []struct {
		name string
		st   cti.RecordingStorage
	}{
		{"local", &recstore.Local{Root: t.TempDir()}},
		{"gofakes3", bucket(s3test.Start(t))},
		{"versitygw", bucket(s3test.StartVersity(t).Config("recordings"))},
	}
	for _, tc := range stores {
		st := tc.st
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "x.wav")
			if err := os.WriteFile(src, data, 0o600); err != nil {
				t.Fatal(err)
			}
			key := "demo/rec_1.wav"
			if err := st.Put(ctx, key, src); err != nil {
				t.Fatal(err)
			}
			read := func(off, n int64) []byte {
				t.Helper()
				r, size, err := st.Open(ctx, key, off, n)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				b, err := io.ReadAll(r)
				if err != nil || size != int64(len(data)) {
					t.Fatalf("read %d+%d: size %d, %v", off, n, size, err)
				}
				return b
			}
			if !bytes.Equal(read(0, -1), data) {
				t.Fatal("whole object differs")
			}
			if !bytes.Equal(read(44, 1000), data[44:1044]) {
				t.Fatal("range differs")
			}
			if !bytes.Equal(read(99_000, -1), data[99_000:]) {
				t.Fatal("open-ended range differs")
			}
			if _, _, err := st.Open(ctx, "demo/none.wav", 0, -1); cti.ErrorKind(err) != cti.KindNotFound {
				t.Fatalf("missing key: %v", err)
			}
			if _, _, err := st.Open(ctx, "../etc/passwd", 0, -1); err == nil {
				t.Fatal("a key leaving the store opened")
			}
			if err := st.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			if err := st.Delete(ctx, key); err != nil {
				t.Fatalf("second delete: %v", err)
			}
			if _, _, err := st.Open(ctx, key, 0, -1); cti.ErrorKind(err) != cti.KindNotFound {
				t.Fatalf("deleted key: %v", err)
			}
		})
	}
}

// versitygw checks signatures: a client with the wrong secret key is
// refused on every request, saying so, and what it tried to store is not
// there; the right key stores it.
func TestS3WrongSecretRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v := s3test.StartVersity(t)
	good, err := recstore.NewS3(v.Config("recordings"))
	if err != nil {
		t.Fatal(err)
	}
	if err := good.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := v.Config("recordings")
	cfg.SecretKey += "x"
	bad, err := recstore.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "x.wav")
	if err := os.WriteFile(src, []byte("RIFF…"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = bad.Put(ctx, "demo/rec_1.wav", src)
	if err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("put with a wrong secret: %v, want a signature error", err)
	}
	if err := bad.EnsureBucket(ctx); err == nil {
		t.Fatal("bucket check with a wrong secret succeeded")
	}
	if _, _, err := good.Open(ctx, "demo/rec_1.wav", 0, -1); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("the refused object: %v, want not found", err)
	}
	if err := good.Put(ctx, "demo/rec_1.wav", src); err != nil {
		t.Fatal(err)
	}
}
