package dtmf

// ClockRate is the RTP clock rate Packets assumes, the one negotiated as
// "telephone-event/8000" in practically every SIP offer.
const ClockRate = 8000

// EndRepeats is how many End packets Packets emits. RFC 4733 §2.5.1.4
// recommends sending the final packet three times because it is the only
// one that carries the true duration and losing it loses the digit.
const EndRepeats = 3

// maxDurationMs keeps the duration field within 16 bits. Longer events
// need RFC 4733 §2.5.1.3 segmentation, which no keypad press requires.
const maxDurationMs = 0xFFFF / (ClockRate / 1000)

// Packets returns the telephone-event payloads to send for one key press
// of durationMs, one payload every packetMs (20 ms if packetMs <= 0).
//
// The caller owns the RTP framing and must:
//   - send every payload with the same RTP timestamp (the event start),
//     with consecutive sequence numbers, one per packetMs;
//   - set the RTP marker bit on the first payload only.
//
// Update packets carry durations packetMs*8, 2*packetMs*8, ... samples for
// as long as they stay below the total; then EndRepeats End packets carry
// the final duration. A press no longer than one packet therefore consists
// of the End packets alone, the first of them taking the marker.
//
// durationMs is clamped to what the 16-bit duration field can express
// (about 8 s) and volume to MaxVolume. Packets returns nil for a code
// above CodeFlash or a non-positive duration.
func Packets(code byte, durationMs int, packetMs int, volume byte) []Event {
	if code > CodeFlash || durationMs <= 0 {
		return nil
	}
	if packetMs <= 0 {
		packetMs = 20
	}
	volume = min(volume, MaxVolume)
	total := min(durationMs, maxDurationMs) * (ClockRate / 1000)
	step := packetMs * (ClockRate / 1000)

	n := (total - 1) / step // updates strictly shorter than the total
	events := make([]Event, 0, n+EndRepeats)
	for i := 1; i <= n; i++ {
		events = append(events, Event{Code: code, Volume: volume, Duration: uint16(i * step)})
	}
	for range EndRepeats {
		events = append(events, Event{Code: code, End: true, Volume: volume, Duration: uint16(total)})
	}
	return events
}
