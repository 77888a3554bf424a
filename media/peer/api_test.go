package peer

import (
	"io"
	"log/slog"
	"net"
	"testing"
)

// An address the machine cannot bind right now (here: one it does not
// have, as a tentative IPv6 address is refused) is skipped; loopback is
// kept.
func TestBindableSkipsUnusableAddresses(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if !bindable(net.IPv4(127, 0, 0, 1), log) {
		t.Fatal("loopback refused")
	}
	if bindable(net.ParseIP("192.0.2.1"), log) { // TEST-NET-1, never local
		t.Fatal("an address the machine does not have was kept")
	}
}

// The API starts on all addresses with the filter in place.
func TestNewOnAllAddresses(t *testing.T) {
	a, err := New(Config{IncludeLoopback: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}
