package wsproto

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode: any bytes a client sends decode to a message with a type or
// to an error, never a panic; a decoded message survives a round trip
// through its own encoding unchanged.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"auth","id":"a1","token":"eyJ.x.y","resume":"sess_1","takeover":true}`,
		`{"type":"offer","id":"o1","sdp":"v=0\r\n"}`,
		`{"type":"ice","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"dial","id":"d1","to":"+15551234567"}`,
		`{"type":"dtmf","callId":"call_1","digits":"12#"}`,
		`{"type":"status","status":"away","reason":"lunch"}`,
		`{"type":"call","call":{"id":"c","card":{"fields":{"k":"v"}}}}`,
		`{"id":"x"}`, `{"type":1}`, `[]`, `null`, `{"type":"ping"`, "\xff\xfe", `{"type":"a","candidate":{"sdpMLineIndex":70000}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if m == nil {
			t.Fatal("Decode returned no message")
		}
		if err != nil {
			if errors.Is(err, ErrNoType) && m.Type != "" {
				t.Fatalf("ErrNoType with type %q", m.Type)
			}
			return
		}
		if m.Type == "" {
			t.Fatal("decoded a message without a type")
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", m, err)
		}
		m2, err := Decode(b)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if !reflect.DeepEqual(normalise(m), normalise(m2)) {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, m2)
		}
	})
}

// normalise erases differences JSON cannot carry: an empty map and a
// missing one are both omitted.
func normalise(m *Message) *Message {
	c := *m
	if c.Call != nil && c.Call.Card != nil && len(c.Call.Card.Fields) == 0 {
		card := *c.Call.Card
		card.Fields = nil
		call := *c.Call
		call.Card = &card
		c.Call = &call
	}
	if c.Welcome != nil {
		w := *c.Welcome
		for i := range w.Calls {
			if w.Calls[i].Card != nil && len(w.Calls[i].Card.Fields) == 0 {
				card := *w.Calls[i].Card
				card.Fields = nil
				w.Calls[i].Card = &card
			}
		}
		c.Welcome = &w
	}
	return &c
}
