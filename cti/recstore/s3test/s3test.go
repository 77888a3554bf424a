// Package s3test starts an S3-compatible server on loopback for tests:
// versitygw (StartVersity: a real S3 gateway that checks request
// signatures, run as a process), gofakes3 (Start: an S3 REST server over
// real HTTP, objects in memory, no signature checks), or the server
// RB_S3_ENDPOINT names (with RB_S3_ACCESS_KEY / RB_S3_SECRET_KEY).
// docs/recordings.md says why versitygw.
//
// # Concurrency
//
// Start is called from a test goroutine; the server serves each request
// on its own goroutine and stops at the test's cleanup.
package s3test

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/ringbridge/ringbridge/cti/recstore"
)

// Start returns the configuration of a fresh bucket on a running server.
func Start(tb testing.TB) recstore.S3Config {
	tb.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	bucket := "rec-" + hex.EncodeToString(b)
	if ep := os.Getenv("RB_S3_ENDPOINT"); ep != "" {
		return recstore.S3Config{Endpoint: ep, Bucket: bucket, Region: "us-east-1",
			AccessKey: os.Getenv("RB_S3_ACCESS_KEY"), SecretKey: os.Getenv("RB_S3_SECRET_KEY")}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: gofakes3.New(s3mem.New()).Server(), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	tb.Cleanup(func() {
		srv.Close()
		<-done
	})
	return recstore.S3Config{Endpoint: ln.Addr().String(), Bucket: bucket, Region: "us-east-1",
		AccessKey: "test-access", SecretKey: "test-secret-key"}
}
