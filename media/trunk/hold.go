package trunk

import (
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

var _ cti.RemoteHoldNotifier = (*leg)(nil)

// Hold, both ways (RFC 3264 §8.4, RFC 6337 §5.3):
//
//   - The far end holds (its offer says sendonly or inactive, or c=0.0.0.0):
//     we answer recvonly or inactive, stop sending RTP toward it, keep
//     listening (it may play music), and tell cti so the agent sees it.
//   - We hold (cti asks, our offer says sendonly): the far end's
//     inactivity timer would drop a long hold if nothing arrived, so the
//     watchdog sends one 20 ms frame of silence a second meanwhile.

// OnRemoteHold registers fn to learn when the far end puts the call on
// hold or resumes it (cti.RemoteHoldNotifier). fn is called from the SIP
// handler's goroutine and must not block.
func (l *leg) OnRemoteHold(fn func(held bool)) {
	l.holdMu.Lock()
	l.onRemoteHold = fn
	l.holdMu.Unlock()
}

// RemoteHeld reports whether the far end holds the call.
func (l *leg) RemoteHeld() bool { return l.remoteHeld.Load() }

// applyRemoteDirection takes the far end's direction (from its offer or
// answer) into account: pause our sending while it holds.
func (l *leg) applyRemoteDirection(dir string) {
	held := dir == "sendonly" || dir == "inactive"
	l.media.SetSendPaused(held)
	if l.remoteHeld.Swap(held) == held {
		return
	}
	l.media.TouchIdle()
	l.log.Info("far end hold changed", "held", held, "direction", dir)
	l.holdMu.Lock()
	fn := l.onRemoteHold
	l.holdMu.Unlock()
	if fn != nil {
		fn(held)
	}
}

// keepAliveSSRC marks our keep-alive frames as a source of their own, so
// the writer's stream rewriting keeps the far end's timeline continuous.
const keepAliveSSRC = 0x4B41_4C56

// sendKeepAlive sends one frame of silence during our hold.
func (l *leg) sendKeepAlive(now time.Time) {
	if !l.answered.Load() || !l.held.Load() || l.hanging.Load() {
		return
	}
	f := l.media.Writer.Format()
	silence := byte(0xFF) // μ-law zero
	if f.Codec == rtpio.CodecPCMA {
		silence = 0xD5
	}
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = silence
	}
	l.kaSeq++
	frame := &rtpio.Frame{Codec: f.Codec, Payload: payload}
	frame.Header.SSRC = keepAliveSSRC
	frame.Header.SequenceNumber = l.kaSeq
	frame.Header.Timestamp = uint32(now.UnixMilli() * 8)
	l.media.Writer.WriteFrame(frame)
}
