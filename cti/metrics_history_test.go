package cti

import (
	"testing"
	"time"
)

// Queue and agent figures per interval from call records: what joined
// when, how it ended, how long callers waited and agents talked.
func TestMetricsFromRecords(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	q := MetricsQuery{From: t0, To: t0.Add(2 * time.Hour), Interval: time.Hour}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	rec := func(joined int, outcome string, wait float64, talk float64, ext string, answered bool) CallRecord {
		r := CallRecord{Queue: &QueueRecord{Name: "sales", JoinedAt: at(joined), Outcome: outcome, WaitSeconds: wait},
			Durations: Durations{Talk: talk}}
		part := AgentSegment{Extension: ext, RingStartedAt: at(joined).Add(time.Duration(wait) * time.Second), EndedAt: at(joined + 10)}
		if answered {
			part.AnsweredAt = part.RingStartedAt
		}
		if ext != "" {
			r.Agents = []AgentSegment{part}
		}
		return r
	}
	recs := []CallRecord{
		rec(5, "answered", 10, 120, "1001", true),                                    // within 20 s
		rec(20, "answered", 40, 60, "1002", true),                                    // outside
		rec(30, "abandoned", 90, 0, "1001", false),                                   // rang 1001, nobody answered
		rec(70, "overflow", 300, 0, "", false),                                       // second hour
		{Queue: &QueueRecord{Name: "other", JoinedAt: at(200), Outcome: "answered"}}, // after the period
	}
	got := queueMetrics(recs, q, map[string]float64{"sales": 20})
	if len(got) != 2 {
		t.Fatalf("rows %+v", got)
	}
	h1, h2 := got[0], got[1]
	if h1.Offered != 3 || h1.Answered != 2 || h1.Abandoned != 1 || h1.AvgSpeedOfAnswerSeconds != 25 ||
		h1.AvgHandleSeconds != 90 || h1.ServiceLevel != 0.333 {
		t.Fatalf("first hour %+v", h1)
	}
	if h2.Offered != 1 || h2.Overflow != 1 || h2.ServiceLevel != 0 || !h2.Start.Equal(t0.Add(time.Hour)) {
		t.Fatalf("second hour %+v", h2)
	}
	agents := agentCallMetrics(recs, q).list()
	if len(agents) != 2 || agents[0].Extension != "1001" || agents[0].Offered != 2 || agents[0].Answered != 1 ||
		agents[1].Offered != 1 || agents[1].Answered != 1 {
		t.Fatalf("agents %+v", agents)
	}
	if err := checkMetricsQuery(&MetricsQuery{From: t0, To: t0.Add(time.Hour), Interval: 5 * time.Minute}); ErrorKind(err) != KindInvalid {
		t.Fatalf("5-minute interval: %v", err)
	}
}
