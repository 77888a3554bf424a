package cti

// RemoteHoldNotifier is implemented by SIP legs that can tell when the far
// end puts the call on hold (a=sendonly or a=inactive in its re-INVITE)
// or resumes it. The callback runs on the voice path's goroutine and must
// not block.
type RemoteHoldNotifier interface {
	OnRemoteHold(func(held bool))
}

// watchRemoteHold keeps CallInfo.RemoteHeld current for leg, so the agent
// is told (through the usual call update) when the caller holds.
func (c *Call) watchRemoteHold(leg SIPLeg) {
	n, ok := leg.(RemoteHoldNotifier)
	if !ok {
		return
	}
	n.OnRemoteHold(func(held bool) {
		c.mu.Lock()
		changed := c.info.RemoteHeld != held
		c.info.RemoteHeld = held
		c.mu.Unlock()
		if changed {
			c.notify()
		}
	})
}
