package recstore_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
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
	s3, err := recstore.NewS3(s3test.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s3.EnsureBucket(ctx); err != nil {
		t.Fatalf("bucket already there: %v", err)
	}
	for _, st := range []cti.RecordingStorage{&recstore.Local{Root: t.TempDir()}, s3} {
		t.Run(st.Name(), func(t *testing.T) {
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
