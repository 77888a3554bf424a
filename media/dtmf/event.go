// Package dtmf handles DTMF key presses in both forms a SIP/WebRTC gateway
// meets them: as RFC 4733 telephone-event RTP payloads (Event, Packets,
// Receiver) and as in-band dual tones in 8 kHz PCM audio (Detector).
//
// Nothing here does I/O; callers own the RTP session and the audio path.
package dtmf

import (
	"errors"
	"fmt"
	"io"
)

// PayloadLen is the size of one RFC 4733 telephone-event payload.
const PayloadLen = 4

// CodeFlash is the hook-flash event (RFC 4733 §3.2). It is accepted by
// Unmarshal and Receiver but has no digit.
const CodeFlash = 16

// MaxVolume is the largest volume value: the field is 6 bits wide and means
// the power level in -dBm0, so 63 is the quietest.
const MaxVolume = 63

var (
	// ErrShortPayload is returned (wrapped) when a telephone-event payload
	// is shorter than PayloadLen bytes.
	ErrShortPayload = errors.New("dtmf: telephone-event payload too short")
	// ErrBadEvent is returned (wrapped) for an event code this package does
	// not handle (anything above CodeFlash) or a volume above MaxVolume.
	ErrBadEvent = errors.New("dtmf: unsupported telephone event")
)

// Event is one RFC 4733 telephone-event payload.
type Event struct {
	Code     byte   // 0-9 digits, 10 '*', 11 '#', 12-15 'A'-'D', 16 flash
	End      bool   // E bit: this packet reports the end of the event
	Volume   byte   // power level in -dBm0, 0..63
	Duration uint16 // in RTP timestamp units since the event's timestamp
}

// MarshalTo writes the 4-byte payload into b and returns the number of
// bytes written. The reserved bit is always sent as zero, as RFC 4733
// requires.
func (e Event) MarshalTo(b []byte) (int, error) {
	if e.Code > CodeFlash {
		return 0, fmt.Errorf("%w: code %d", ErrBadEvent, e.Code)
	}
	if e.Volume > MaxVolume {
		return 0, fmt.Errorf("%w: volume %d exceeds %d", ErrBadEvent, e.Volume, MaxVolume)
	}
	if len(b) < PayloadLen {
		return 0, fmt.Errorf("dtmf: marshal into %d bytes: %w", len(b), io.ErrShortBuffer)
	}
	b[0] = e.Code
	b[1] = e.Volume
	if e.End {
		b[1] |= 0x80
	}
	b[2] = byte(e.Duration >> 8)
	b[3] = byte(e.Duration)
	return PayloadLen, nil
}

// Unmarshal parses a telephone-event payload. Only the first PayloadLen
// bytes are read: RTP padding is the RTP layer's business, and RFC 2198
// redundancy uses a different payload type. The reserved bit is ignored
// as RFC 4733 asks receivers to do.
func Unmarshal(b []byte) (Event, error) {
	if len(b) < PayloadLen {
		return Event{}, fmt.Errorf("%w: %d bytes, need %d", ErrShortPayload, len(b), PayloadLen)
	}
	if b[0] > CodeFlash {
		return Event{}, fmt.Errorf("%w: code %d", ErrBadEvent, b[0])
	}
	return Event{
		Code:     b[0],
		End:      b[1]&0x80 != 0,
		Volume:   b[1] & 0x3F,
		Duration: uint16(b[2])<<8 | uint16(b[3]),
	}, nil
}

const digits = "0123456789*#ABCD"

// CodeForDigit maps a keypad character (0-9, *, #, A-D; a-d accepted too)
// to its RFC 4733 event code.
func CodeForDigit(r rune) (byte, bool) {
	if r >= 'a' && r <= 'd' {
		r -= 'a' - 'A'
	}
	for i, d := range digits {
		if d == r {
			return byte(i), true
		}
	}
	return 0, false
}

// DigitForCode maps an event code 0-15 to its keypad character.
func DigitForCode(code byte) (rune, bool) {
	if int(code) >= len(digits) {
		return 0, false
	}
	return rune(digits[code]), true
}
