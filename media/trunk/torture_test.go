package trunk

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// RFC 4475 §3.1.2 and §3.3 messages that a UAS must not take as valid,
// sent over UDP from a trunk address. Our verdict for each: the status we
// must answer with, or 0 where nothing can be answered (a response, or a
// request whose Via, Call-ID or CSeq is itself the malformed part: a
// response needs them intact, and we never echo a malformed header). REGISTER is answered
// 405 whatever its flaw once the message is readable: we are no
// registrar. The list is ours, not sipgo's; the messages are the ones
// sipgo ships in its module.
var tortureVerdicts = map[string]int{
	"badaspec":   400, // spaces inside an addr-spec
	"badbranch":  200, // branch is only the magic cookie: still a usable id (RFC 4475 §3.1.2.? treats it as valid)
	"baddate":    404, // a non-GMT Date may be ignored (§3.1.2.12): routed, and cti knows no such number
	"baddn":      400, // non-token characters in an unquoted display name
	"badinv01":   0,   // ";;,;" separators in its only Via: no response could be matched to it
	"badvers":    505, // SIP/7.0
	"bcast":      0,   // a response
	"bext01":     420, // Require: nothingSupportsThis
	"bigcode":    0,   // a response
	"clerr":      400, // Content-Length past the end of the datagram
	"cparam01":   405, // REGISTER
	"cparam02":   405, // REGISTER
	"escruri":    400, // escaped headers in the Request-URI
	"insuf":      400, // no To, From, Call-ID, Max-Forwards
	"inv2543":    400, // RFC 2543 INVITE without Contact
	"invut":      415, // Content-Type: application/unknownformat
	"ltgtruri":   400, // <> around the Request-URI
	"lwsruri":    400, // whitespace inside the Request-URI
	"lwsstart":   400, // two spaces between Request-Line elements
	"mcl01":      400, // two Content-Lengths
	"mismatch01": 400, // CSeq method differs from the Request-Line
	"mismatch02": 400, // the same, with an unknown method
	"multi01":    400, // two To, From, Call-ID, CSeq
	"ncl":        400, // negative Content-Length
	"novelsc":    416, // soap.beep: Request-URI
	"quotbal":    400, // unterminated quoted display name
	"regaut01":   405, // REGISTER
	"regbadct":   405, // REGISTER
	"regescrt":   405, // REGISTER
	"scalar02":   0,   // CSeq beyond 2**32: a response would have to echo it or omit CSeq
	"scalarlg":   0,   // a response
	"sdp01":      406, // Accept: excludes SDP, which we would answer with
	"test":       0,   // no SIP version, no Via, no CSeq: nothing to answer to
	"trws":       400, // trailing whitespace in the Request-Line
	"unkscm":     416, // nobodyKnowsThisScheme: Request-URI
	"unksm2":     405, // REGISTER
	"zeromf":     200, // Max-Forwards 0 on OPTIONS: a UAS answers it
}

// sipgoTorture finds sipgo's copy of the RFC 4475 messages.
func sipgoTorture(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/emiago/sipgo").Output()
	if err != nil {
		t.Fatalf("locating sipgo: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "sip", "testdata", "torture", "invalid")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("RFC 4475 messages not found (%v); run go mod download", err)
	}
	return dir
}

var topVia = regexp.MustCompile(`(?im)^(?:via|v)[ \t]*:[ \t]*SIP[ \t]*/[ \t]*([^/ \t]+)[ \t]*/[ \t]*[A-Za-z]+[ \t]+[^; \t\r\n]+`)

func TestRFC4475InvalidMessages(t *testing.T) {
	quietSIPLogs(t)
	tr, udpAddr, _ := startTrunks(t, &refuseAll{})
	dir := sipgoTorture(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.dat"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no torture files in %s", dir)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".dat")
		want, listed := tortureVerdicts[name]
		if !listed {
			t.Errorf("%s: no verdict in our list", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p := newSIPPeer(t, udpAddr, "127.0.0.1")
			// Responses must come back to us: the top Via's sent-by
			// becomes our socket (with rport), its flaws otherwise kept.
			msg := topVia.ReplaceAllString(string(raw), "Via: SIP/${1}/UDP "+p.local().String()+";rport")
			msg = strings.Replace(msg, "\n", "\r\n", -1)
			msg = strings.Replace(msg, "\r\r\n", "\r\n", -1)
			p.sendRaw([]byte(msg))
			if want == 0 {
				p.expectSilence(300 * time.Millisecond)
				p.options()
				return
			}
			res := p.readUntil(func(r sipRes) bool { return r.status >= 200 })
			final := res[len(res)-1]
			if final.status != want {
				t.Fatalf("answered %d %s, want %d\n--- sent:\n%s", final.status, final.reason, want, msg)
			}
			if !strings.HasPrefix(final.raw, "SIP/2.0 ") {
				t.Errorf("status line is not SIP/2.0: %q", strings.SplitN(final.raw, "\r\n", 2)[0])
			}
			p.options()
		})
	}
	waitUntil(t, "legs and ports released", func() bool { return tr.ActiveLegs() == 0 && tr.ports.InUse() == 0 })
}
