package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ringbridge/ringbridge/cti"
)

// The agent is told when the far end holds the call: callToWire carries
// it, and only while it is true.
func TestCallToWireCarriesRemoteHold(t *testing.T) {
	held, _ := json.Marshal(callToWire(cti.CallInfo{ID: "call_1", State: cti.CallActive, RemoteHeld: true}))
	resumed, _ := json.Marshal(callToWire(cti.CallInfo{ID: "call_1", State: cti.CallActive}))
	if !strings.Contains(string(held), `"remoteHeld":true`) || strings.Contains(string(resumed), "remoteHeld") {
		t.Fatalf("held %s, resumed %s", held, resumed)
	}
}
