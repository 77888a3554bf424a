package cti_test

import (
	"sync"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
)

// clock is a hand-driven time source for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(hhmmss string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, _ := time.Parse("15:04:05", hhmmss)
	c.t = time.Date(2026, 3, 2, d.Hour(), d.Minute(), d.Second(), 0, time.UTC)
}

// A scripted working day: time in status per status and away reason is
// exact to the second, calls included (ringing, on call), and the
// intervals are listed.
func TestTimeInStatusOverAScriptedDay(t *testing.T) {
	clk := &clock{}
	clk.set("09:00:00")
	svc, _ := newService(t, cti.Config{Now: clk.now,
		Numbers: map[string]cti.NumberRoute{"15550001001": {TenantID: "demo", Extension: "1001"}}})
	ss, err := svc.Connect(t.Context(), principal("1001"), false)
	if err != nil {
		t.Fatal(err)
	}
	step := func(at string, f func() error) {
		t.Helper()
		clk.set(at)
		if err := f(); err != nil {
			t.Fatalf("%s: %v", at, err)
		}
	}
	step("10:00:00", func() error { return ss.SetStatus(cti.StatusAway, "break") })
	step("10:15:00", func() error { return ss.SetStatus(cti.StatusAvailable, "") })
	step("12:00:00", func() error { return ss.SetStatus(cti.StatusAway, "lunch") })
	step("13:00:00", func() error { return ss.SetStatus(cti.StatusAvailable, "") })
	leg := ctitest.NewInboundLeg("in-1")
	step("14:00:00", func() error {
		return svc.InboundCall(t.Context(), cti.InboundCall{Trunk: "t", From: "15557654321", To: "15550001001", Leg: leg})
	})
	ring := nextCall(t, ss, cti.CallRinging)
	step("14:00:10", func() error { return ss.Answer(ring.ID) })
	nextCall(t, ss, cti.CallActive)
	step("14:05:10", func() error { leg.RemoteHangup(); return nil })
	nextCall(t, ss, cti.CallEnded)
	step("17:00:00", func() error { ss.Close(); return nil })

	admin := cti.Principal{TenantID: "demo", Role: cti.RoleAdmin, UserID: "admin"}
	day := cti.StatusQuery{From: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)}
	got, err := svc.TimeInStatus(t.Context(), admin, day)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"available/": 3600 + 6300 + 3600 + 10490,
		"away/break": 900,
		"away/lunch": 3600,
		"ringing/":   10,
		"on_call/":   300,
	}
	have := map[string]float64{}
	for _, r := range got {
		if r.Extension != "1001" {
			t.Fatalf("row of another extension: %+v", r)
		}
		have[string(r.Status)+"/"+r.Reason] = r.Seconds
	}
	if len(have) != len(want) {
		t.Fatalf("time in status %v, want %v", have, want)
	}
	for k, v := range want {
		if have[k] != v {
			t.Errorf("%s: %v s, want %v s", k, have[k], v)
		}
	}
	// A window inside the day is clipped: 11:00-12:30 is 1 h available
	// and half an hour of lunch.
	part := cti.StatusQuery{From: time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 2, 12, 30, 0, 0, time.UTC)}
	got, err = svc.TimeInStatus(t.Context(), admin, part)
	if err != nil || len(got) != 2 || got[0].Seconds != 3600 || got[1].Seconds != 1800 {
		t.Fatalf("clipped window: %+v, %v", got, err)
	}
	hist, _, err := svc.StatusHistory(t.Context(), admin, day, cti.Page{Limit: 50})
	if err != nil || len(hist) != 8 || hist[0].Status != cti.StatusAvailable || hist[0].EndedAt.IsZero() {
		t.Fatalf("history: %d intervals, newest %+v, %v", len(hist), hist, err)
	}
	// An agent reads only their own time.
	if _, err := svc.TimeInStatus(t.Context(), principal("1002"), cti.StatusQuery{From: day.From, To: day.To, Extension: "1001"}); cti.ErrorKind(err) != cti.KindForbidden {
		t.Fatalf("agent reading another's time: %v", err)
	}
}

// Status flapping is bounded: after a burst, changes are refused with a
// precise error until the bucket refills.
func TestStatusFlappingIsLimited(t *testing.T) {
	clk := &clock{}
	clk.set("09:00:00")
	svc, _ := newService(t, cti.Config{Now: clk.now})
	ss, err := svc.Connect(t.Context(), principal("1001"), false)
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for i := range 30 {
		st := cti.StatusAway
		if i%2 == 1 {
			st = cti.StatusAvailable
		}
		if err := ss.SetStatus(st, ""); cti.ErrorKind(err) == cti.KindRateLimited {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if refused != 20 {
		t.Fatalf("%d of 30 quick changes refused, want 20 (a burst of 10)", refused)
	}
	clk.set("09:01:00") // ten more tokens
	if err := ss.SetStatus(cti.StatusAway, "back soon"); err != nil {
		t.Fatalf("after a minute: %v", err)
	}
	// A CRM acting for the agent shares the agent's limit.
	crm := cti.Principal{TenantID: "demo", Role: cti.RoleAPI, UserID: "crm"}
	if _, err := svc.SetAgentStatus(t.Context(), crm, "1001", cti.StatusBusyElsewhere, ""); err != nil {
		t.Fatal(err)
	}
	if p, err := svc.AgentStatusOf(t.Context(), crm, "1001"); err != nil || p.Status != cti.StatusBusyElsewhere {
		t.Fatalf("status after the CRM set it: %+v, %v", p, err)
	}
	if _, err := svc.SetAgentStatus(t.Context(), crm, "1002", cti.StatusAway, ""); cti.ErrorKind(err) != cti.KindConflict {
		t.Fatalf("setting a signed-out agent: %v", err)
	}
}

// A supervisor reads the statuses of their teams' operators only.
func TestSupervisorSeesTheirTeams(t *testing.T) {
	svc, _ := newService(t, cti.Config{})
	admin := cti.Principal{TenantID: "demo", Role: cti.RoleAdmin, UserID: "admin"}
	sup := cti.Principal{TenantID: "demo", Role: cti.RoleSupervisor, UserID: "sup", Teams: []string{"red"}}
	all, err := svc.AgentStatuses(t.Context(), admin)
	if err != nil || len(all) != 2 {
		t.Fatalf("admin sees %+v, %v", all, err)
	}
	mine, err := svc.AgentStatuses(t.Context(), sup)
	if err != nil || len(mine) != 0 {
		t.Fatalf("a supervisor of another team sees %+v, %v", mine, err)
	}
	if _, err := svc.AgentStatusOf(t.Context(), sup, "1001"); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("a supervisor read an operator outside their teams: %v", err)
	}
	// 1002 joins team red: the supervisor sees them, and only them.
	u, err := svc.FindUserByLogin(t.Context(), "demo", "a1002")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdateUser(t.Context(), cti.Principal{TenantID: "demo", Role: cti.RoleAdmin, UserID: "admin"}, u.ID,
		cti.UserPatch{Teams: &[]string{"red"}}); err != nil {
		t.Fatal(err)
	}
	mine, err = svc.AgentStatuses(t.Context(), sup)
	if err != nil || len(mine) != 1 || mine[0].Extension != "1002" {
		t.Fatalf("the supervisor of red sees %+v, %v", mine, err)
	}
}
