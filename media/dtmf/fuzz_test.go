package dtmf

import (
	"encoding/binary"
	"strings"
	"testing"
)

// FuzzTelephoneEvent decodes RFC 4733 payloads as they arrive from a far
// end, alone and as a stream through the Receiver. Nothing may panic; an
// accepted event must encode back to the same bytes (bar the reserved
// bit); the Receiver may report only keypad digits, each event once.
//
//	go test -run '^$' -fuzz FuzzTelephoneEvent -fuzztime 20s ./media/dtmf
func FuzzTelephoneEvent(f *testing.F) {
	f.Add([]byte{5, 0x0a, 0x00, 0xa0})
	f.Add([]byte{5, 0x8a, 0x03, 0x20, 5, 0x8a, 0x03, 0x20})
	f.Add([]byte{11, 0x0a, 0, 160, 11, 0x0a, 1, 64, 11, 0x8a, 3, 32, 0, 0x0a, 0, 160})
	f.Add([]byte{16, 0x7f, 0xff, 0xff})
	f.Add([]byte{17, 0, 0, 0})
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if ev, err := Unmarshal(data); err == nil {
			var b [PayloadLen]byte
			n, err := ev.MarshalTo(b[:])
			if err != nil || n != PayloadLen {
				t.Fatalf("decoded %+v does not encode: %v", ev, err)
			}
			if b[0] != data[0] || b[1] != data[1]&^0x40 || b[2] != data[2] || b[3] != data[3] {
				t.Fatalf("% x decoded to %+v, encodes to % x", data[:4], ev, b)
			}
		}
		// As a stream: 4-byte payloads, each preceded by a 2-byte
		// timestamp step, as packets of one RTP stream.
		var rx Receiver
		var ts uint32
		seen := map[uint32]bool{}
		for len(data) >= 6 {
			ts += uint32(binary.BigEndian.Uint16(data[:2]))
			d, ok, _ := rx.Push(ts, data[2:6])
			data = data[6:]
			if !ok {
				continue
			}
			if !strings.ContainsRune(digits, d) {
				t.Fatalf("reported %q, not a keypad digit", d)
			}
			if seen[ts] {
				t.Fatalf("event at timestamp %d reported twice", ts)
			}
			seen[ts] = true
		}
	})
}
