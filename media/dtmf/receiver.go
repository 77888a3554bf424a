package dtmf

// staleWindow is how far behind the current event, in RTP timestamp units,
// a packet may be and still count as a late duplicate of an old event. A
// larger jump backwards is taken as a timestamp discontinuity (new SSRC,
// re-INVITE) and starts a new event instead of being ignored for hours.
const staleWindow = 1 << 15 // ~4 s at 8 kHz

// Receiver turns a stream of RFC 4733 telephone-event payloads into key
// presses, reporting each press exactly once even though senders repeat
// the End packet and networks duplicate and reorder packets.
//
// Events are keyed by RTP timestamp, which RFC 4733 fixes for the whole
// event. A press is reported on the first End packet seen for its
// timestamp, so the digit is known to be complete. If every End packet of
// an event is lost, the press is reported instead when the next event
// begins, so it is late but not lost.
//
// A Receiver is not safe for concurrent use; feed it from the goroutine
// that reads the RTP session. The zero value is ready to use.
type Receiver struct {
	active   bool   // an event has been seen
	ts       uint32 // timestamp of the current event
	code     byte
	reported bool // the current event has been reported (or has no digit)
}

// Push processes one payload carried in an RTP packet with timestamp ts.
// It returns the digit when this packet completes a press that has not been
// reported yet. Malformed payloads return an error wrapping ErrShortPayload
// or ErrBadEvent and leave the Receiver unchanged. Flash events (CodeFlash)
// are tracked like digits but never reported.
func (r *Receiver) Push(ts uint32, payload []byte) (digit rune, ok bool, err error) {
	ev, err := Unmarshal(payload)
	if err != nil {
		return 0, false, err
	}

	switch {
	case !r.active:
		r.start(ts, ev)
	case ts != r.ts:
		if r.ts-ts < staleWindow {
			return 0, false, nil // late or duplicated packet of an older event
		}
		// A new event. If the previous one never delivered an End packet,
		// report it now; should this packet be the new event's End, the
		// sender's repeats of it (or, failing those, the next event) will
		// report the new press.
		prev, had := r.pending()
		r.start(ts, ev)
		if had {
			return prev, true, nil
		}
	}

	if ev.End {
		digit, ok = r.pending()
	}
	return digit, ok, nil
}

// Reset forgets the current event, for example after the remote SSRC
// changed, so that a new stream cannot be mistaken for old duplicates.
func (r *Receiver) Reset() { *r = Receiver{} }

func (r *Receiver) start(ts uint32, ev Event) {
	*r = Receiver{active: true, ts: ts, code: ev.Code}
}

// pending marks the current event reported and returns its digit if it
// had not been reported before.
func (r *Receiver) pending() (rune, bool) {
	if !r.active || r.reported {
		return 0, false
	}
	r.reported = true
	return DigitForCode(r.code)
}
