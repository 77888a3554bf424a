package ctitest

import (
	"context"
	"sync"

	"github.com/ringbridge/ringbridge/cti"
)

var (
	_ cti.InboundLeg  = (*InboundLeg)(nil)
	_ cti.OutboundLeg = (*OutboundLeg)(nil)
)

// sipLeg is the part of a fake SIP leg both directions share.
type sipLeg struct {
	ID string

	mu     sync.Mutex
	done   chan struct{}
	once   sync.Once
	reason cti.EndReason
	Held   bool
	Digits string
}

func newSIPLeg(id string) sipLeg { return sipLeg{ID: id, done: make(chan struct{})} }

func (l *sipLeg) EndpointID() string    { return l.ID }
func (l *sipLeg) CallID() string        { return l.ID }
func (l *sipLeg) Trunk() string         { return "fake" }
func (l *sipLeg) Done() <-chan struct{} { return l.done }
func (l *sipLeg) OnDTMF(func(rune))     {}

func (l *sipLeg) EndReason() cti.EndReason {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reason
}

// end ends the leg once, with why.
func (l *sipLeg) end(why cti.EndReason) {
	l.once.Do(func() {
		l.mu.Lock()
		l.reason = why
		l.mu.Unlock()
		close(l.done)
	})
}

// Hangup ends the leg from our side.
func (l *sipLeg) Hangup(context.Context) error { l.end(cti.EndLocalHangup); return nil }

// RemoteHangup ends the leg as the far end hanging up would.
func (l *sipLeg) RemoteHangup() { l.end(cti.EndRemoteHangup) }

func (l *sipLeg) Hold(_ context.Context, on bool) error {
	l.mu.Lock()
	l.Held = on
	l.mu.Unlock()
	return nil
}

func (l *sipLeg) SendDTMF(d string) error {
	l.mu.Lock()
	l.Digits += d
	l.mu.Unlock()
	return nil
}

// InboundLeg is a fake call offered by a trunk.
type InboundLeg struct {
	sipLeg
	// Status is the final error response sent by Reject (0: none).
	Status   int
	Rang     bool
	Answered bool
}

// NewInboundLeg returns a ringing inbound leg.
func NewInboundLeg(id string) *InboundLeg { return &InboundLeg{sipLeg: newSIPLeg(id)} }

func (l *InboundLeg) Ringing(context.Context) error {
	l.mu.Lock()
	l.Rang = true
	l.mu.Unlock()
	return nil
}

func (l *InboundLeg) Answer(context.Context) error {
	l.mu.Lock()
	l.Answered = true
	l.mu.Unlock()
	return nil
}

func (l *InboundLeg) Reject(_ context.Context, why cti.EndReason) error {
	l.mu.Lock()
	l.Status = RejectStatus(why)
	l.mu.Unlock()
	l.end(cti.EndRejected)
	return nil
}

// State returns what the leg was told: rung, answered, final status.
func (l *InboundLeg) State() (rang, answered bool, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Rang, l.Answered, l.Status
}

// OutboundLeg is a fake call we placed; the test drives the far end with
// Progress, Answer and Fail.
type OutboundLeg struct {
	sipLeg
	To         string
	progress   chan struct{}
	answered   chan struct{}
	progOnce   sync.Once
	answerOnce sync.Once
}

// NewOutboundLeg returns a leg that is dialling to.
func NewOutboundLeg(id, to string) *OutboundLeg {
	return &OutboundLeg{sipLeg: newSIPLeg(id), To: to, progress: make(chan struct{}), answered: make(chan struct{})}
}

func (l *OutboundLeg) Progress() <-chan struct{} { return l.progress }
func (l *OutboundLeg) Answered() <-chan struct{} { return l.answered }

// Ring reports progress from the far end (180).
func (l *OutboundLeg) Ring() { l.progOnce.Do(func() { close(l.progress) }) }

// Answer answers from the far end (200).
func (l *OutboundLeg) Answer() { l.answerOnce.Do(func() { close(l.answered) }) }

// Fail ends the dial unanswered (busy, no answer, …).
func (l *OutboundLeg) Fail(why cti.EndReason) { l.end(why) }

// RejectStatus is the SIP status the real trunk answers a Reject with
// (media/trunk's table, repeated here for tests that check it).
func RejectStatus(why cti.EndReason) int {
	switch why {
	case cti.EndRejected, cti.EndBusy:
		return 486
	case cti.EndShutdown, cti.EndFailed:
		return 503
	}
	return 480
}
