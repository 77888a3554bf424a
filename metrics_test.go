package main

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Profiles are served on the private metrics listener only when
// RINGBRIDGE_PPROF=1; otherwise the path does not exist.
func TestMetricsListenerPprofOnlyWhenAsked(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want int
	}{{"", http.StatusNotFound}, {"1", http.StatusOK}} {
		t.Setenv("RINGBRIDGE_PPROF", tc.env)
		m, err := newMetricsServer("127.0.0.1:0", prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		m.start()
		res, err := http.Get("http://" + m.ln.Addr().String() + "/debug/pprof/goroutine?debug=1")
		if err != nil {
			m.close()
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		m.close()
		if res.StatusCode != tc.want {
			t.Fatalf("RINGBRIDGE_PPROF=%q: status %d, want %d", tc.env, res.StatusCode, tc.want)
		}
	}
}
