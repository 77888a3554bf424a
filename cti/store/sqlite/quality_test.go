package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// A record's per-leg quality is kept in the record and as rows; saving
// the record again (a disposition set later) replaces the rows.
func TestCallQualityRows(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "q.db"))
	r := &cti.CallRecord{ID: "call_q", TenantID: "demo", StartedAt: time.Now().UTC(), Quality: []cti.LegQualitySummary{
		{Kind: cti.LegSIP, SIPCallID: "abc@x", Samples: 10, PoorSamples: 7, Level: cti.QualityPoor, MOSAvg: 3.1, MOSMin: 2.8, LossPercentMax: 22},
		{Kind: cti.LegAgent, Extension: "1001", Samples: 10, Level: cti.QualityGood, MOSAvg: 4.4, MOSMin: 4.3},
	}}
	for range 2 {
		if err := s.SaveCallRecord(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetCallRecord(ctx, "demo", "call_q")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Quality) != 2 || got.Quality[0].PoorSamples != 7 || got.Quality[1].Extension != "1001" {
		t.Fatalf("record keeps quality %+v", got.Quality)
	}
	var n int
	var worst float64
	if err := s.Reader().QueryRowContext(ctx, `SELECT count(*), min(mos_min) FROM call_quality WHERE tenant_id = 'demo' AND call_id = 'call_q'`).Scan(&n, &worst); err != nil {
		t.Fatal(err)
	}
	if n != 2 || worst != 2.8 {
		t.Fatalf("%d quality rows, worst MOS %v; want 2 and 2.8", n, worst)
	}
	if err := s.Reader().QueryRowContext(ctx, `SELECT count(*) FROM call_quality WHERE tenant_id = 'demo' AND level = 'poor'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("poor legs: %d, %v", n, err)
	}
}

// StatusQuery.Extensions narrows time in status and history in the store
// itself (a supervisor's teams), and an empty list matches nobody.
func TestStatusQueryExtensions(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "st.db"))
	base := time.Now().Add(-time.Minute).UTC()
	for i, ext := range []string{"1001", "1002", "1003"} {
		if err := s.ApplyEventState(ctx, &cti.EventState{Presence: &cti.AgentStatusChange{TenantID: "demo", Extension: ext,
			Status: cti.StatusAvailable, ChangedAt: base.Add(time.Duration(i) * time.Second)}}); err != nil {
			t.Fatal(err)
		}
	}
	q := cti.StatusQuery{From: base.Add(-time.Hour), To: base.Add(time.Hour), Extensions: []string{"1001", "1003"}}
	times, err := s.TimeInStatus(ctx, "demo", q, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hist, _, err := s.StatusHistory(ctx, "demo", q, cti.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(times) != 2 || times[0].Extension != "1001" || times[1].Extension != "1003" || len(hist) != 2 {
		t.Fatalf("narrowed to 1001 and 1003: times %+v, history %+v", times, hist)
	}
	q.Extensions = []string{}
	if times, _ := s.TimeInStatus(ctx, "demo", q, time.Now()); len(times) != 0 {
		t.Fatalf("an empty list matched %+v", times)
	}
	q.Extensions = nil
	if times, _ := s.TimeInStatus(ctx, "demo", q, time.Now()); len(times) != 3 {
		t.Fatalf("no narrowing: %+v", times)
	}
}
