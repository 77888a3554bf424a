// Package queue chooses which agents a queued call is offered to, and in
// what order. It is pure: the strategies see a snapshot of the free agents
// and of the call, and return an order; ringing, timeouts and the calls
// themselves belong to cti. So every strategy is testable without a call.
//
// # Concurrency
//
// Order and the strategies are pure functions; a RoundRobin cursor is the
// only state, and its owner (the queue's runtime in cti) serialises it.
package queue

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Strategy names how a queue picks agents.
type Strategy string

const (
	// RingAll rings every free agent at once; the first to answer wins.
	RingAll Strategy = "ring_all"
	// LongestIdle offers the agent free for longest first.
	LongestIdle Strategy = "longest_idle"
	// RoundRobin goes round the member list, starting after the agent
	// offered last.
	RoundRobin Strategy = "round_robin"
	// FewestCalls offers the agent who answered fewest calls today first.
	FewestCalls Strategy = "fewest_calls"
	// LeastTalkTime offers the agent with the least talk time today first.
	LeastTalkTime Strategy = "least_talk_time"
	// TopDown always starts at the top of the member list.
	TopDown Strategy = "top_down"
	// Random offers the free agents in a random order.
	Random Strategy = "random"
	// Skills offers only agents with the call's skills at the levels it
	// needs (widening as the caller waits), best match first, then longest
	// idle.
	Skills Strategy = "skills"
)

// Strategies lists every strategy, for validation and documentation.
var Strategies = []Strategy{RingAll, LongestIdle, RoundRobin, FewestCalls, LeastTalkTime, TopDown, Random, Skills}

// Valid reports whether s is a known strategy.
func (s Strategy) Valid() bool { return slices.Contains(Strategies, s) }

// ParseStrategy validates a strategy name.
func ParseStrategy(s string) (Strategy, error) {
	if st := Strategy(s); st.Valid() {
		return st, nil
	}
	return "", fmt.Errorf("unknown queue strategy %q (want one of %v)", s, Strategies)
}

// Agent is a free member of the queue as the strategies see it.
type Agent struct {
	Extension string
	// Position is the agent's place in the queue's member list (0 first).
	Position int
	// IdleSince is when the agent last became free: the end of their last
	// call, or signing in.
	IdleSince time.Time
	// CallsToday and TalkToday are the agent's answered calls and talk
	// time since midnight (the tenant's).
	CallsToday int
	TalkToday  time.Duration
	// Skills are the agent's skill levels (1-100).
	Skills map[string]int
}

// Call is a queued call as the strategies see it.
type Call struct {
	// Skills are the levels the call needs (1-100), for Skills.
	Skills map[string]int
	// Waited is how long the caller has been waiting.
	Waited time.Duration
}

// Widening lowers a skills call's required levels while the caller
// waits: by Step every Every, never below 1. Zero Every: never.
type Widening struct {
	Every time.Duration
	Step  int
}

// Required returns the levels a call needs after waiting waited.
func (w Widening) Required(need map[string]int, waited time.Duration) map[string]int {
	drop := 0
	if w.Every > 0 && w.Step > 0 {
		drop = int(waited/w.Every) * w.Step
	}
	out := make(map[string]int, len(need))
	for skill, level := range need {
		out[skill] = max(1, level-drop)
	}
	return out
}

// Cursor remembers where round-robin stopped: the position of the member
// offered last (-1: none yet).
type Cursor struct{ Last int }

// NewCursor starts before the first member.
func NewCursor() *Cursor { return &Cursor{Last: -1} }

// Order returns the free agents to offer the call to, in order; RingAll's
// order is the one they all ring in. Agents a skills call cannot take are
// left out. cur is moved for RoundRobin (may be nil otherwise); rnd is
// used by Random (nil: the package's generator).
func Order(s Strategy, free []Agent, call Call, w Widening, cur *Cursor, rnd *rand.Rand) []Agent {
	out := slices.Clone(free)
	byPosition := func(a, b Agent) int { return cmp.Compare(a.Position, b.Position) }
	idleFirst := func(a, b Agent) int {
		return cmp.Or(a.IdleSince.Compare(b.IdleSince), byPosition(a, b))
	}
	switch s {
	case RingAll, TopDown:
		slices.SortStableFunc(out, byPosition)
	case LongestIdle:
		slices.SortStableFunc(out, idleFirst)
	case FewestCalls:
		slices.SortStableFunc(out, func(a, b Agent) int { return cmp.Or(cmp.Compare(a.CallsToday, b.CallsToday), idleFirst(a, b)) })
	case LeastTalkTime:
		slices.SortStableFunc(out, func(a, b Agent) int { return cmp.Or(cmp.Compare(a.TalkToday, b.TalkToday), idleFirst(a, b)) })
	case RoundRobin:
		slices.SortStableFunc(out, byPosition)
		last := -1
		if cur != nil {
			last = cur.Last
		}
		// Rotate so the first member after the last one offered leads.
		i, _ := slices.BinarySearchFunc(out, last+1, func(a Agent, p int) int { return cmp.Compare(a.Position, p) })
		out = append(out[i:], out[:i]...)
		if cur != nil && len(out) > 0 {
			cur.Last = out[0].Position
		}
	case Random:
		shuffle := rand.Shuffle
		if rnd != nil {
			shuffle = rnd.Shuffle
		}
		shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	case Skills:
		need := w.Required(call.Skills, call.Waited)
		out = slices.DeleteFunc(out, func(a Agent) bool { return !qualifies(a, need) })
		slices.SortStableFunc(out, func(a, b Agent) int {
			return cmp.Or(cmp.Compare(match(b, need), match(a, need)), idleFirst(a, b))
		})
	}
	return out
}

// qualifies: the agent has every needed skill at the needed level.
func qualifies(a Agent, need map[string]int) bool {
	for skill, level := range need {
		if a.Skills[skill] < level {
			return false
		}
	}
	return true
}

// match scores how well an agent fits: the sum of their levels in the
// needed skills.
func match(a Agent, need map[string]int) int {
	n := 0
	for skill := range need {
		n += a.Skills[skill]
	}
	return n
}
