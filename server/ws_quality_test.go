package server

import (
	"strings"
	"testing"

	fws "github.com/fasthttp/websocket"

	"github.com/ringbridge/ringbridge/server/wsproto"
)

// The widget's statistics: checked field by field, refused with a clear
// error when wrong, at most one a second; the connection survives all of
// it.
func TestWSStatsValidatedAndRateLimited(t *testing.T) {
	e := newEnv(t)
	e.listen()
	c, _ := e.connectAgent("alice")
	for _, bm := range []struct{ raw, mention string }{
		{`{"type":"stats","id":"a"}`, `"stats"`},
		{`{"type":"stats","id":"a","stats":{"packetsLost":0,"jitter":0}}`, `"stats.packetsReceived"`},
		{`{"type":"stats","id":"a","stats":{"packetsReceived":10,"jitter":0}}`, `"stats.packetsLost"`},
		{`{"type":"stats","id":"a","stats":{"packetsReceived":-1,"packetsLost":0,"jitter":0}}`, "packetsReceived must be a non-negative"},
		{`{"type":"stats","id":"a","stats":{"packetsReceived":1.5,"packetsLost":0,"jitter":0}}`, "whole numbers"},
		{`{"type":"stats","id":"a","stats":{"packetsReceived":10,"packetsLost":0,"jitter":99}}`, "jitter must be"},
		{`{"type":"stats","id":"a","stats":{"packetsReceived":10,"packetsLost":0,"jitter":0,"roundTripTime":-2}}`, "roundTripTime"},
		{`{"type":"stats","id":"a","stats":{"packetsReceived":"ten","packetsLost":0,"jitter":0}}`, "must be a number"},
	} {
		c.sendRaw(fws.TextMessage, []byte(bm.raw))
		if m := c.read(); m.Type != wsproto.TypeError || m.Code != wsproto.CodeBadMessage || m.ID != "a" || !strings.Contains(m.Message, bm.mention) {
			t.Errorf("%s: got %+v, want bad_message mentioning %q", bm.raw, m, bm.mention)
		}
	}
	good := `{"type":"stats","id":"g","stats":{"packetsReceived":500,"packetsLost":-1,"jitter":0.004,"roundTripTime":0.031}}`
	c.sendRaw(fws.TextMessage, []byte(good))
	if m := c.read(); m.Type != wsproto.TypeAck || m.ID != "g" {
		t.Fatalf("stats: %+v", m)
	}
	c.sendRaw(fws.TextMessage, []byte(good))
	if m := c.read(); m.Type != wsproto.TypeError || m.Code != wsproto.CodeRateLimited {
		t.Fatalf("a second report at once: %+v, want rate_limited", m)
	}
	c.send(wsproto.Message{Type: wsproto.TypePing, ID: "p"})
	if m := c.read(); m.Type != wsproto.TypeAck || m.ID != "p" {
		t.Fatalf("ping after refused stats: %+v", m)
	}
}
