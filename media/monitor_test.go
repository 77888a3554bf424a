package media_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/mix"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/wav"
)

// supervisorTone is what the supervisor's microphone plays.
const supervisorTone = 700.0

// A supervisor listens to, whispers into and barges into a live call
// through their own softphone session, switching modes on the same
// PeerConnection; each party hears exactly what the mode says, and the
// agent hears the announcement beep each time.
func TestSupervisorListenWhisperBarge(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	if _, err := h.svc.UpdateSettings(h.ctx, cti.SystemPrincipal(tenant, "test"), func(t *cti.TenantSettings) { t.AnnounceMonitoring = true }); err != nil {
		t.Fatal(err)
	}
	ag := h.signIn("1001", agentTone)
	sup := h.signIn("1003", supervisorTone)
	agentEar, supEar := mediatest.MixedEar(), mediatest.MixedEar()
	ag.client.OnAudio(agentEar.WriteUlaw)
	sup.client.OnAudio(supEar.WriteUlaw)

	ring, far := h.answerInbound(ag, didAgent1)
	ag.waitCall(cti.CallActive)
	callerEar := mediatest.MixedEar()
	far.call.OnAudio(func(codec rtpio.Codec, p []byte) {
		if codec == rtpio.CodecPCMA {
			callerEar.WriteAlaw(p)
		} else {
			callerEar.WriteUlaw(p)
		}
	})
	mediatest.HearsAll(t, h.ctx, "caller", callerEar, agentTone)

	boss := cti.Principal{TenantID: tenant, UserID: h.users["1003"].ID, Username: "agent1003", Extension: "1003", Role: cti.RoleAdmin}
	info, err := h.svc.Monitor(h.ctx, boss, ring.ID, cti.MonitorListen)
	if err != nil {
		t.Fatal(err)
	}
	if info.Monitor != cti.MonitorListen {
		t.Fatalf("monitor view says %q", info.Monitor)
	}
	if got := sup.waitCall(cti.CallActive); got.ID != ring.ID {
		t.Fatalf("supervisor was told about call %s, want %s", got.ID, ring.ID)
	}
	mediatest.HearsAll(t, h.ctx, "agent (announcement)", agentEar, mix.BeepHz)
	mediatest.HearsAll(t, h.ctx, "listening supervisor", supEar, agentTone, carrierTone)
	mediatest.NotHeard(t, h.ctx, "agent while listened to", agentEar, carrierTone, supervisorTone)
	mediatest.NotHeard(t, h.ctx, "caller while listened to", callerEar, agentTone, supervisorTone)

	if _, err := h.svc.Monitor(h.ctx, boss, ring.ID, cti.MonitorWhisper); err != nil {
		t.Fatal(err)
	}
	mediatest.HearsAll(t, h.ctx, "agent coached", agentEar, supervisorTone, carrierTone)
	mediatest.NotHeard(t, h.ctx, "caller while the agent is coached", callerEar, agentTone, supervisorTone)
	mediatest.HearsAll(t, h.ctx, "whispering supervisor", supEar, agentTone, carrierTone)

	if _, err := h.svc.Monitor(h.ctx, boss, ring.ID, cti.MonitorBarge); err != nil {
		t.Fatal(err)
	}
	mediatest.HearsAll(t, h.ctx, "caller after barge", callerEar, agentTone, supervisorTone)
	mediatest.HearsAll(t, h.ctx, "agent after barge", agentEar, supervisorTone, carrierTone)
	mediatest.HearsAll(t, h.ctx, "barging supervisor", supEar, agentTone, carrierTone)

	// The supervisor hanging up leaves; the call goes on, two-way again.
	if err := sup.sess.Hangup(ring.ID); err != nil {
		t.Fatal(err)
	}
	if got := sup.waitCall(cti.CallEnded); got.EndReason != cti.EndMonitorStopped {
		t.Errorf("supervisor's part ended with %q", got.EndReason)
	}
	mediatest.NotHeard(t, h.ctx, "caller after the supervisor left", callerEar, agentTone, supervisorTone)
	mediatest.NotHeard(t, h.ctx, "agent after the supervisor left", agentEar, carrierTone, supervisorTone)
	if err := ag.sess.Hangup(ring.ID); err != nil {
		t.Fatalf("the agent's call did not go on after the supervisor left: %v", err)
	}
	if got := ag.waitCall(cti.CallEnded); got.EndReason != cti.EndLocalHangup {
		t.Errorf("the agent's call ended with %q", got.EndReason)
	}

	// Every use is audited.
	entries, _, err := h.svc.ListAudit(h.ctx, cti.SystemPrincipal(tenant, "test"), cti.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var modes []string
	for _, e := range entries {
		if e.Action == "call.monitor" && e.Target == ring.ID {
			modes = append(modes, e.Details["mode"].(string))
		}
	}
	if len(modes) != 3 {
		t.Errorf("audit has %d call.monitor entries for the call (%v), want 3", len(modes), modes)
	}
}

// A supervisor with no softphone open, or on another call, is told so; a
// supervisor of another team or tenant does not find the call.
func TestMonitorRefusals(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ag := h.signIn("1001", agentTone)
	ring, _ := h.answerInbound(ag, didAgent1)
	ag.waitCall(cti.CallActive)

	noPhone := cti.Principal{TenantID: tenant, UserID: h.users["1002"].ID, Extension: "1002", Role: cti.RoleAdmin}
	if _, err := h.svc.Monitor(h.ctx, noPhone, ring.ID, cti.MonitorListen); cti.ErrorKind(err) != cti.KindConflict {
		t.Errorf("monitor without a softphone: %v, want a conflict", err)
	}
	other := cti.Principal{TenantID: "other", UserID: "u", Extension: "1003", Role: cti.RoleAdmin}
	if _, err := h.svc.Monitor(h.ctx, other, ring.ID, cti.MonitorListen); cti.ErrorKind(err) != cti.KindNotFound {
		t.Errorf("another tenant's admin: %v, want not found", err)
	}
	h.signIn("1003", supervisorTone)
	otherTeam := cti.Principal{TenantID: tenant, UserID: h.users["1003"].ID, Extension: "1003", Role: cti.RoleSupervisor, Teams: []string{"blue"}}
	if _, err := h.svc.Monitor(h.ctx, otherTeam, ring.ID, cti.MonitorListen); cti.ErrorKind(err) != cti.KindNotFound {
		t.Errorf("a supervisor of another team: %v, want not found", err)
	}
	agentRole := cti.Principal{TenantID: tenant, UserID: h.users["1003"].ID, Extension: "1003", Role: cti.RoleAgent}
	if _, err := h.svc.Monitor(h.ctx, agentRole, ring.ID, cti.MonitorListen); cti.ErrorKind(err) != cti.KindForbidden {
		t.Errorf("an agent: %v, want forbidden", err)
	}
	// The agent cannot listen in on their own call.
	self := cti.Principal{TenantID: tenant, UserID: h.users["1001"].ID, Extension: "1001", Role: cti.RoleAdmin}
	if _, err := h.svc.Monitor(h.ctx, self, ring.ID, cti.MonitorListen); cti.ErrorKind(err) != cti.KindBusy && cti.ErrorKind(err) != cti.KindConflict {
		t.Errorf("a party of the call: %v, want a refusal", err)
	}
}

// A supervisor listens only to calls of their teams' agents, also after
// a transfer: when the call moves to an agent of another team, their
// part ends and they stop hearing it; an administrator stays.
func TestMonitorEndsWhenTransferLeavesTheTeam(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for ext, teams := range map[string][]string{"1001": {"red"}, "1002": {"blue"}, "1003": {"red"}} {
		u := h.users[ext]
		u.Teams = teams
		if err := h.store.UpdateUser(h.ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	red := h.signIn("1001", agentTone)
	blue := h.signIn("1002", 700)
	sup := h.signIn("1003", supervisorTone)
	supEar := mediatest.MixedEar()
	sup.client.OnAudio(supEar.WriteUlaw)

	ring, far := h.answerInbound(red, didAgent1)
	red.waitCall(cti.CallActive)
	far.hears(t, h.ctx, agentTone)
	boss := cti.Principal{TenantID: tenant, UserID: h.users["1003"].ID, Extension: "1003", Role: cti.RoleSupervisor, Teams: []string{"red"}}
	if _, err := h.svc.Monitor(h.ctx, boss, ring.ID, cti.MonitorListen); err != nil {
		t.Fatal(err)
	}
	sup.waitCall(cti.CallActive)
	mediatest.HearsAll(t, h.ctx, "red supervisor", supEar, agentTone, carrierTone)

	if err := red.sess.Transfer(ring.ID, "1002"); err != nil {
		t.Fatal(err)
	}
	if got := sup.waitCall(cti.CallEnded); got.EndReason != cti.EndMonitorStopped {
		t.Fatalf("the red supervisor's part ended with %q, want %q", got.EndReason, cti.EndMonitorStopped)
	}
	bring := blue.waitCall(cti.CallRinging)
	if err := blue.sess.Answer(bring.ID); err != nil {
		t.Fatal(err)
	}
	supEar.Reset()
	far.heard.Reset()
	far.hears(t, h.ctx, 700)
	// The call is live (the caller hears the blue agent); the red
	// supervisor hears neither side of it.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if supEar.Detected(carrierTone) || supEar.Detected(700) {
			t.Fatal("the red supervisor still hears the call after it moved to the blue team")
		}
	}
	if _, err := h.svc.Monitor(h.ctx, boss, ring.ID, cti.MonitorListen); cti.ErrorKind(err) != cti.KindNotFound {
		t.Errorf("listening again to the blue agent's call: %v, want not found", err)
	}
}

// A recorded call goes on recording while a supervisor whispers: the
// agent stays on the left channel, and the right channel has what the
// agent heard — the caller and the coaching.
func TestRecordingWhileWhispered(t *testing.T) {
	events := &ctitest.Events{}
	h := newHarness(t, harnessOpts{ctiConfig: func(c *cti.Config) {
		c.Tenants = map[string]cti.TenantSettings{tenant: {Record: true}}
	}})
	h.svc.SetEventSink(events)
	ag := h.signIn("1001", agentTone)
	sup := h.signIn("1003", supervisorTone)
	ring, far := h.answerInbound(ag, didAgent1)
	far.hears(t, h.ctx, agentTone)
	boss := cti.Principal{TenantID: tenant, UserID: h.users["1003"].ID, Extension: "1003", Role: cti.RoleAdmin}
	if _, err := h.svc.Monitor(h.ctx, boss, ring.ID, cti.MonitorWhisper); err != nil {
		t.Fatal(err)
	}
	sup.waitCall(cti.CallActive)
	agentEar := mediatest.MixedEar()
	ag.client.OnAudio(agentEar.WriteUlaw)
	mediatest.HearsAll(t, h.ctx, "coached agent", agentEar, supervisorTone, carrierTone)
	if err := far.call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	ag.waitCall(cti.CallEnded)
	if got := sup.waitCall(cti.CallEnded); got.ID != ring.ID {
		t.Errorf("the supervisor was told call %s ended, want %s", got.ID, ring.ID)
	}
	ready := waitEvent(t, events, cti.EventRecordingReady)
	data := ready.Data.(*cti.RecordingReady)
	raw, err := os.ReadFile(filepath.Join(h.recDir, tenant, data.ID+".wav"))
	if err != nil {
		t.Fatal(err)
	}
	pcm, channels, _, err := wav.ReadInterleaved(bytes.NewReader(raw))
	if err != nil || channels != 2 {
		t.Fatalf("recording: %d channels, %v", channels, err)
	}
	left, right := mixedChannel(pcm, 0), mixedChannel(pcm, 1)
	if !left.Detected(agentTone) || left.Detected(supervisorTone) || left.Detected(carrierTone) {
		t.Errorf("left channel: agent %v, supervisor %v, caller %v; want the agent alone",
			left.Detected(agentTone), left.Detected(supervisorTone), left.Detected(carrierTone))
	}
	if !right.Detected(carrierTone) || !right.Detected(supervisorTone) || right.Detected(agentTone) {
		t.Errorf("right channel: caller %v, supervisor %v, agent %v; want the caller and the supervisor",
			right.Detected(carrierTone), right.Detected(supervisorTone), right.Detected(agentTone))
	}
}

// mixedChannel is channelDetector for a channel that may carry two voices.
func mixedChannel(pcm []int16, ch int) *mediatest.ToneDetector {
	d := mediatest.NewToneDetector(mediatest.ToneDetectorConfig{Dominance: 0.2, MaxHistory: time.Hour})
	mono := make([]int16, 0, len(pcm)/2)
	for i := ch; i < len(pcm); i += 2 {
		mono = append(mono, pcm[i])
	}
	d.WritePCM(mono)
	return d
}
