package trunk

import (
	"strings"
	"testing"
)

// Trunks replaced at runtime apply to the next INVITE: a source that a
// trunk no longer allows is refused, one a new trunk allows reaches cti,
// and outbound calls go to the new first trunk.
func TestSetTrunksAppliesToTheNextInvite(t *testing.T) {
	quietSIPLogs(t)
	h := &refuseAll{}
	tr, udp, _ := startTrunks(t, h)
	invite := func() int {
		t.Helper()
		p := newSIPPeer(t, udp, "127.0.0.1")
		return p.final(p.send(sipReq{method: "INVITE", callID: randToken(), extra: sdpHeader, body: goodOffer})).status
	}
	if got := invite(); got != 404 {
		t.Fatalf("INVITE from the configured trunk: %d, want 404 from cti", got)
	}
	if err := tr.SetTrunks([]TrunkConfig{{Name: "elsewhere", Address: "127.0.0.2:5999", AllowFrom: []string{"127.0.0.2/32"}}}); err != nil {
		t.Fatal(err)
	}
	if got := invite(); got != 403 {
		t.Fatalf("INVITE from a source no trunk allows any more: %d, want 403", got)
	}
	if err := tr.SetTrunks([]TrunkConfig{{Name: "bad", Address: "127.0.0.1:5999", AllowFrom: []string{"not-an-ip"}}}); err == nil ||
		!strings.Contains(err.Error(), "not-an-ip") {
		t.Fatalf("a bad trunk list: %v", err)
	}
	if got := tr.trunkList(); len(got) != 1 || got[0].Name != "elsewhere" {
		t.Fatalf("a refused list changed the trunks: %+v", got)
	}
	if err := tr.SetTrunks([]TrunkConfig{{Name: "back", Address: "127.0.0.1:5999", AllowFrom: []string{"127.0.0.0/8"}}}); err != nil {
		t.Fatal(err)
	}
	if got := invite(); got != 404 {
		t.Fatalf("INVITE after the trunk came back: %d, want 404", got)
	}
	if calls := h.calls(); len(calls) != 2 || calls[1].Trunk != "back" {
		t.Fatalf("cti saw %+v, want two calls, the last on trunk back", calls)
	}
}
