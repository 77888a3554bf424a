package cti

import (
	"testing"
	"time"
)

func TestEstimateMOS(t *testing.T) {
	for _, c := range []struct {
		name          string
		loss          float64
		jitter, rtt   time.Duration
		level         QualityLevel
		minMOS, maxOS float64
	}{
		{"clean LAN", 0, time.Millisecond, 2 * time.Millisecond, QualityGood, 4.3, 4.5},
		{"1 % loss", 0.01, 5 * time.Millisecond, 40 * time.Millisecond, QualityGood, 4.1, 4.4},
		{"5 % loss", 0.05, 10 * time.Millisecond, 80 * time.Millisecond, QualityFair, 3.6, 4.0},
		{"15 % loss", 0.15, 10 * time.Millisecond, 50 * time.Millisecond, QualityPoor, 2.5, 3.4},
		{"satellite delay", 0, 20 * time.Millisecond, 800 * time.Millisecond, QualityPoor, 1, 3.6},
		{"everything lost", 1, 0, 0, QualityPoor, 1, 1.6},
	} {
		mos := EstimateMOS(c.loss, c.jitter, c.rtt)
		if mos < c.minMOS || mos > c.maxOS || LevelOf(mos) != c.level {
			t.Errorf("%s: MOS %.2f (%s), want %.1f to %.1f (%s)", c.name, mos, LevelOf(mos), c.minMOS, c.maxOS, c.level)
		}
	}
}

func TestQualityForNamesTheSide(t *testing.T) {
	legs := []LegQuality{{Kind: LegSIP, Level: QualityPoor}, {Kind: LegAgent, Extension: "1001", Level: QualityGood}}
	if q := qualityFor("c", "1001", legs); q.Level != QualityPoor || q.Side != SideRemote {
		t.Fatalf("caller's line bad: %+v", q)
	}
	legs = []LegQuality{{Kind: LegSIP, Level: QualityGood}, {Kind: LegAgent, Extension: "1001", Level: QualityPoor}}
	if q := qualityFor("c", "1001", legs); q.Side != SideLocal {
		t.Fatalf("own network bad: %+v", q)
	}
	// An internal call: the other agent's network is the remote side.
	legs = []LegQuality{{Kind: LegAgent, Extension: "1001", Level: QualityGood}, {Kind: LegAgent, Extension: "1002", Level: QualityPoor}}
	if q := qualityFor("c", "1001", legs); q.Side != SideRemote {
		t.Fatalf("other agent's network bad: %+v", q)
	}
	if q := qualityFor("c", "1002", legs); q.Side != SideLocal {
		t.Fatalf("own network bad, seen by 1002: %+v", q)
	}
	if q := qualityFor("c", "1001", legs[:1]); q.Level != QualityGood || q.Side != "" {
		t.Fatalf("all good: %+v", q)
	}
}

func TestBrowserStatsAreCheckedAndRateLimited(t *testing.T) {
	ss := &AgentSession{}
	for _, bad := range []BrowserStats{
		{Jitter: -time.Millisecond},
		{RTT: 2 * time.Minute},
		{PacketsLost: 1 << 50},
	} {
		if err := ss.ReportStats(bad); ErrorKind(err) != KindInvalid {
			t.Errorf("%+v: got %v, want invalid", bad, err)
		}
	}
	if err := ss.ReportStats(BrowserStats{PacketsReceived: 100, Jitter: 3 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := ss.ReportStats(BrowserStats{PacketsReceived: 150}); ErrorKind(err) != KindRateLimited {
		t.Fatalf("a second report at once: %v, want rate limited", err)
	}
	if got := ss.browser.stats.Load(); got.PacketsReceived != 100 {
		t.Fatalf("the refused report replaced the accepted one: %+v", got)
	}
}

// A leg turns poor at once, and good again only after two good intervals.
func TestLegLevelRecoversSlowly(t *testing.T) {
	m := &legMeter{kind: LegSIP}
	good := legReading{}
	bad := legReading{inLoss: 0.2}
	var got []QualityLevel
	for _, r := range []legReading{good, bad, good, bad, good, good, good} {
		q := m.record(r, 0, time.Now())
		m.last = q
		got = append(got, q.Level)
	}
	want := []QualityLevel{QualityGood, QualityPoor, QualityPoor, QualityPoor, QualityPoor, QualityGood, QualityGood}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("levels %v, want %v", got, want)
		}
	}
	if m.sum.PoorSamples != 2 || m.sum.Samples != 7 {
		t.Fatalf("summary counts %d poor of %d; the held level must not count", m.sum.PoorSamples, m.sum.Samples)
	}
}
