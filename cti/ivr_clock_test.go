package cti

import (
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti/ivr"
)

func TestIVRClockHolds(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		cond ivr.Cond
		now  string
		want bool
	}{
		{ivr.Cond{From: "09:00", Until: "17:00"}, "2026-12-07 09:00", true},
		{ivr.Cond{From: "09:00", Until: "17:00"}, "2026-12-07 17:00", false},
		{ivr.Cond{From: "09:00", Until: "17:00"}, "2026-12-07 08:59", false},
		{ivr.Cond{From: "22:00", Until: "06:00"}, "2026-12-07 23:10", true}, // spans midnight
		{ivr.Cond{From: "22:00", Until: "06:00"}, "2026-12-07 05:59", true},
		{ivr.Cond{From: "22:00", Until: "06:00"}, "2026-12-07 12:00", false},
		{ivr.Cond{Days: []string{"sat", "sun"}}, "2026-12-07 12:00", false}, // a Monday
		{ivr.Cond{Days: []string{"mon"}}, "2026-12-07 12:00", true},
		{ivr.Cond{NotHolidays: []string{"2026-12-25"}}, "2026-12-25 10:00", false},
		{ivr.Cond{NotHolidays: []string{"2026-12-25"}}, "2026-12-24 10:00", true},
	} {
		if got := ivrClockHolds(&tc.cond, at(tc.now)); got != tc.want {
			t.Errorf("%+v at %s: %v, want %v", tc.cond, tc.now, got, tc.want)
		}
	}
	if tenantLocation("") != time.UTC || tenantLocation("Nowhere/Atlantis") != time.UTC {
		t.Error("an unset or unknown zone is not UTC")
	}
	if tenantLocation("Asia/Tokyo").String() != "Asia/Tokyo" {
		t.Error("Asia/Tokyo not loaded")
	}
}
