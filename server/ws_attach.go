package server

import (
	"sync"
	"time"

	"github.com/ringbridge/ringbridge/server/wsproto"
)

// attachWait bounds how long a resuming connection waits for the one it
// supersedes to stop reading the session's events.
const attachWait = 2 * time.Second

// attachments records which websocket currently serves each session. A
// client that reconnects after a network change often resumes before the
// server has noticed the old socket is dead; without this record the old
// socket's eventual teardown would Detach the session under the new one
// (starting its grace timer), and both forwarders would split its events.
type attachments struct {
	mu    sync.Mutex
	bySID map[string]*agentConn
}

func newAttachments() *attachments {
	return &attachments{bySID: map[string]*agentConn{}}
}

// attach makes a the session's connection. An older connection of the same
// session is told it was replaced and closed, and attach waits (briefly)
// for its forwarder to stop so no event goes to the wrong socket.
func (t *attachments) attach(sid string, a *agentConn) {
	t.mu.Lock()
	prev := t.bySID[sid]
	t.bySID[sid] = a
	t.mu.Unlock()
	if prev == nil {
		return
	}
	prev.log.Info("session resumed on another connection")
	prev.c.trySend(&wsproto.Message{Type: wsproto.TypeError, Code: wsproto.CodeSessionReplace,
		Message: "session resumed on another connection"})
	prev.c.closeWith(closeReplaced, "session resumed elsewhere")
	timer := time.NewTimer(attachWait)
	defer timer.Stop()
	select {
	case <-prev.fwdDone:
	case <-timer.C:
		a.log.Warn("previous connection did not release the session in time")
	}
}

// release forgets a if it still serves sid and reports whether it did; only
// then may a's teardown detach the session.
func (t *attachments) release(sid string, a *agentConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bySID[sid] != a {
		return false
	}
	delete(t.bySID, sid)
	return true
}
