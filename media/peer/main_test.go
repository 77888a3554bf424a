package peer

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine of the API (socket readers, the reporter, ICE-TCP
// connections) and of the endpoints (handshakes, DTMF) ends with Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
