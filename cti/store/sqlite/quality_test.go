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
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*), min(mos_min) FROM call_quality WHERE tenant_id = 'demo' AND call_id = 'call_q'`).Scan(&n, &worst); err != nil {
		t.Fatal(err)
	}
	if n != 2 || worst != 2.8 {
		t.Fatalf("%d quality rows, worst MOS %v; want 2 and 2.8", n, worst)
	}
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM call_quality WHERE tenant_id = 'demo' AND level = 'poor'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("poor legs: %d, %v", n, err)
	}
}
