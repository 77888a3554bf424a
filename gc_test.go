package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// serve halves the collector's headroom unless GOGC says otherwise.
func TestGCDefault(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	t.Run("unset", func(t *testing.T) {
		if v, ok := os.LookupEnv("GOGC"); ok {
			t.Setenv("GOGC", v) // restored after the test
			os.Unsetenv("GOGC")
		}
		debug.SetGCPercent(100)
		if got := applyGCDefault(); got != serverGCPercent {
			t.Fatalf("reported %d, want %d", got, serverGCPercent)
		}
		if now := debug.SetGCPercent(100); now != serverGCPercent {
			t.Fatalf("GC percent %d, want %d", now, serverGCPercent)
		}
	})
	t.Run("set", func(t *testing.T) {
		t.Setenv("GOGC", "80")
		debug.SetGCPercent(80) // as the runtime read it at start
		if got := applyGCDefault(); got != 80 {
			t.Fatalf("reported %d, want GOGC's 80", got)
		}
		if now := debug.SetGCPercent(100); now != 80 {
			t.Fatalf("GC percent %d, want GOGC's 80 left alone", now)
		}
	})
}
