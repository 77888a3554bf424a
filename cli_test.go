package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/server/wsproto"
)

// ringbridge dial rings an agent and plays its tone, which the agent hears.
func TestDialCommandRingsTheBrowser(t *testing.T) {
	e := startE2E(t)
	a := e.signIn("alice", 440)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runDial(ctx, []string{"-server", e.sip, "-tone", "700", "-expect", "440", "-duration", "20s", "1001"})
	}()
	ring := a.waitCall("ringing")
	a.request(wsproto.Message{Type: wsproto.TypeAnswer, CallID: ring.ID})
	a.hears(700)
	time.Sleep(500 * time.Millisecond) // let the dialler hear the agent too
	cancel()                           // like Ctrl-C: the dialler hangs up
	if err := <-done; err != nil {
		t.Fatalf("dial command (expecting the agent's 440 Hz): %v", err)
	}
	if end := a.waitCall("ended"); end.EndReason != "remote_hangup" {
		t.Fatalf("end reason %q", end.EndReason)
	}
}

// The audio check fails when the expected tone never comes.
func TestDialCommandAudioCheckFails(t *testing.T) {
	e := startE2E(t)
	a := e.signIn("alice", 440)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runDial(ctx, []string{"-server", e.sip, "-expect", "1500", "-duration", "2s", "1001"})
	}()
	ring := a.waitCall("ringing")
	a.request(wsproto.Message{Type: wsproto.TypeAnswer, CallID: ring.ID})
	if err := <-done; err == nil || !strings.Contains(err.Error(), "1500 Hz was not heard") {
		t.Fatalf("audio check: %v, want a failure naming 1500 Hz", err)
	}
}

// ringbridge answer stands in for a carrier: the agent's outbound call is
// answered and echoed, so the agent hears its own tone.
func TestAnswerCommandEchoes(t *testing.T) {
	e := startE2E(t)
	a := e.signIn("alice", 523)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	// The e2e carrier phone holds the trunk's address; free it for the
	// command.
	addr := e.carrier.Addr().String()
	e.carrier.Close()
	go func() {
		if err := runAnswer(ctx, []string{"-listen", addr, "-echo"}); err != nil {
			t.Errorf("answer command: %v", err)
		}
	}()
	var r wsproto.Message
	for i := 0; i < 20; i++ {
		if r = a.request(wsproto.Message{Type: wsproto.TypeDial, To: "15559990000"}); r.Type == wsproto.TypeAck {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r.Type != wsproto.TypeAck || r.Call == nil {
		t.Fatalf("dial: %+v", r)
	}
	a.waitCall("active")
	a.hears(523)
	a.request(wsproto.Message{Type: wsproto.TypeHangup, CallID: r.Call.ID})
	a.waitCall("ended")
}

func TestDialCommandUsage(t *testing.T) {
	err := runDial(context.Background(), []string{"-server", "127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "one number") {
		t.Fatalf("no number: %v", err)
	}
	// Nobody listens: the call fails rather than hanging forever.
	ln, _ := net.ListenPacket("udp", "127.0.0.1:0")
	addr := ln.LocalAddr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := runDial(ctx, []string{"-server", addr, "1001"}); err == nil {
		t.Fatal("dialling a dead address succeeded")
	}
}
