package queue

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// members: a (top of the list, idle 1 min, 5 calls, 20 min talk), b (idle
// 10 min, 2 calls, 30 min talk), c (idle 5 min, 2 calls, 10 min talk).
func members() []Agent {
	return []Agent{
		{Extension: "c", Position: 2, IdleSince: t0.Add(-5 * time.Minute), CallsToday: 2, TalkToday: 10 * time.Minute,
			Skills: map[string]int{"de": 90, "billing": 40}},
		{Extension: "a", Position: 0, IdleSince: t0.Add(-1 * time.Minute), CallsToday: 5, TalkToday: 20 * time.Minute,
			Skills: map[string]int{"de": 60}},
		{Extension: "b", Position: 1, IdleSince: t0.Add(-10 * time.Minute), CallsToday: 2, TalkToday: 30 * time.Minute,
			Skills: map[string]int{"de": 70, "billing": 80}},
	}
}

func exts(as []Agent) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Extension
	}
	return out
}

func TestStrategiesOrderFreeAgents(t *testing.T) {
	for _, c := range []struct {
		s    Strategy
		call Call
		want []string
	}{
		{RingAll, Call{}, []string{"a", "b", "c"}},
		{TopDown, Call{}, []string{"a", "b", "c"}},
		{LongestIdle, Call{}, []string{"b", "c", "a"}},
		// b and c both took 2 calls: the longer idle of them first.
		{FewestCalls, Call{}, []string{"b", "c", "a"}},
		{LeastTalkTime, Call{}, []string{"c", "a", "b"}},
		// German and billing: only b and c qualify, b matches better.
		{Skills, Call{Skills: map[string]int{"de": 60, "billing": 30}}, []string{"b", "c"}},
		// Billing at 85: nobody yet.
		{Skills, Call{Skills: map[string]int{"billing": 85}}, []string{}},
	} {
		got := exts(Order(c.s, members(), c.call, Widening{}, nil, nil))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s %v: %v, want %v", c.s, c.call.Skills, got, c.want)
		}
	}
}

// Round-robin goes round the member list from where it stopped, skipping
// members who are not free.
func TestRoundRobinContinuesAfterTheLastOffered(t *testing.T) {
	cur := NewCursor()
	var firsts []string
	for range 4 {
		firsts = append(firsts, Order(RoundRobin, members(), Call{}, Widening{}, cur, nil)[0].Extension)
	}
	if !slices.Equal(firsts, []string{"a", "b", "c", "a"}) {
		t.Fatalf("round robin offered %v first", firsts)
	}
	// b is busy now: after c comes a, after a comes c.
	free := slices.DeleteFunc(members(), func(a Agent) bool { return a.Extension == "b" })
	if got := exts(Order(RoundRobin, free, Call{}, Widening{}, cur, nil)); !slices.Equal(got, []string{"c", "a"}) {
		t.Fatalf("after a, with b busy: %v", got)
	}
}

// A skills call that waits widens by 20 every 30 s: billing 85 becomes
// 65 after 30 s, which only b (80) meets, and 25 after 90 s, which c (40)
// meets too.
func TestSkillsWidenWhileTheCallerWaits(t *testing.T) {
	w := Widening{Every: 30 * time.Second, Step: 20}
	call := Call{Skills: map[string]int{"billing": 85}}
	for _, c := range []struct {
		waited time.Duration
		want   []string
	}{
		{0, []string{}},
		{29 * time.Second, []string{}},
		{30 * time.Second, []string{"b"}},      // 65
		{90 * time.Second, []string{"b", "c"}}, // 25
		{time.Hour, []string{"b", "c"}},        // never below 1
	} {
		call.Waited = c.waited
		if got := exts(Order(Skills, members(), call, w, nil, nil)); !slices.Equal(got, c.want) {
			t.Errorf("after %v: %v, want %v", c.waited, got, c.want)
		}
	}
	if got := w.Required(map[string]int{"x": 10}, time.Hour)["x"]; got != 1 {
		t.Fatalf("widened below 1: %d", got)
	}
}

func TestRandomUsesEveryFreeAgentOnce(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	seen := map[string]int{}
	for range 300 {
		got := exts(Order(Random, members(), Call{}, Widening{}, nil, rnd))
		if len(got) != 3 {
			t.Fatalf("random order %v", got)
		}
		seen[got[0]]++
	}
	for _, e := range []string{"a", "b", "c"} {
		if seen[e] < 60 {
			t.Fatalf("random put %s first %d times of 300", e, seen[e])
		}
	}
}

func TestParseStrategy(t *testing.T) {
	for _, s := range Strategies {
		if got, err := ParseStrategy(string(s)); err != nil || got != s {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if _, err := ParseStrategy("fastest"); err == nil {
		t.Fatal("unknown strategy accepted")
	}
}
