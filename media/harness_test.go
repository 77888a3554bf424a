package media_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
	"github.com/ringbridge/ringbridge/media"
	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/peer"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/trunk"
)

// The harness runs the real voice path on loopback: a SQLite store, the
// cti service, the pion agent side on one UDP port, the sipgo trunk side,
// and a Phone playing the carrier. Nothing is faked.

const (
	tenant      = "demo"
	didAgent1   = "15550001001"
	didAgent2   = "15550001002"
	callerNum   = "15557654321"
	carrierUser = "trunkuser"
	carrierPass = "s3cret-digest"
)

type harness struct {
	t       testing.TB
	ctx     context.Context
	svc     *cti.Service
	store   cti.Store
	trunks  *trunk.Trunks
	peers   *peer.API
	capi    *peer.ClientAPI
	carrier *trunk.Phone
	sipAddr netip.AddrPort
	users   map[string]*cti.User
	recDir  string // where the engine writes recordings
}

type harnessOpts struct {
	carrierCodec rtpio.Codec
	mediaTimeout time.Duration
	register     bool
	// trunkAddr points the trunk at an outside peer (e.g. SIPp) instead
	// of the carrier Phone; empty keeps the Phone.
	trunkAddr string
	// ctiConfig adjusts the core's configuration (CRM, tenants, numbers).
	ctiConfig func(*cti.Config)
	// trunkTransport is the outbound trunk's transport ("" = udp).
	trunkTransport string
	// carrierNoEvents: the carrier offers no RFC 4733 (keys are tones in
	// the audio).
	carrierNoEvents bool
	// earlyMedia is the trunk's early media direction ("" = oneway).
	earlyMedia string
}

func logger() *slog.Logger {
	if os.Getenv("RB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	log := logger()
	h := &harness{t: t, ctx: ctx, users: map[string]*cti.User{}}

	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.store = st
	if err := st.CreateTenant(ctx, &cti.Tenant{ID: tenant, Name: "Demo"}); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"1001", "1002", "1003"} {
		u := &cti.User{TenantID: tenant, Username: "agent" + ext, Extension: ext, Role: cti.RoleAgent, PasswordHash: "x"}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		h.users[ext] = u
	}

	h.carrier, err = trunk.NewPhone(trunk.PhoneConfig{Listen: "127.0.0.1:0", User: "carrier", Codec: o.carrierCodec, NoTelephoneEvent: o.carrierNoEvents,
		Realm: "carrier.test", Username: carrierUser, Password: carrierPass, Log: log.With("side", "carrier")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.carrier.Close() })

	h.peers, err = peer.New(peer.Config{ListenIP: "127.0.0.1", IncludeLoopback: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	eng := media.NewEngine(h.peers)
	h.recDir = filepath.Join(t.TempDir(), "recordings")
	eng.SetRecordingDir(h.recDir)
	ctiCfg := cti.Config{
		Numbers: map[string]cti.NumberRoute{
			didAgent1: {TenantID: tenant, Extension: "1001"},
			didAgent2: {TenantID: tenant, Extension: "1002"},
		},
		RingTimeout: 10 * time.Second,
	}
	if o.ctiConfig != nil {
		o.ctiConfig(&ctiCfg)
	}
	h.svc = cti.New(ctiCfg, st, eng, log)

	trunkAddr := h.carrier.Addr().String()
	if o.trunkAddr != "" {
		trunkAddr = o.trunkAddr
	}
	h.trunks, err = trunk.New(trunk.Config{
		Trunks: []trunk.TrunkConfig{{
			Name: "carrier", Address: trunkAddr, AllowFrom: []string{"127.0.0.1/32"},
			Username: carrierUser, Password: carrierPass, Register: o.register, Transport: o.trunkTransport,
			EarlyMedia: o.earlyMedia,
		}},
		MediaIP:      netip.MustParseAddr("127.0.0.1"),
		RTPPortMin:   20000,
		RTPPortMax:   29999,
		MediaTimeout: o.mediaTimeout,
		// The carrier, SIPp and the raw-socket tests all send from
		// 127.0.0.1, faster than one carrier would; the limits are tested
		// in package trunk.
		RateLimits: trunk.RateLimits{InvitePerSecond: -1, OptionsPerSecond: -1, RegisterPerSecond: -1},
	}, h.svc, log.With("side", "ringbridge"))
	if err != nil {
		t.Fatal(err)
	}
	udp, tcp := listenSIP(t)
	if err := h.trunks.Serve(udp, tcp); err != nil {
		t.Fatal(err)
	}
	h.sipAddr = udp.LocalAddr().(*net.UDPAddr).AddrPort()
	eng.SetDialer(h.trunks)
	if h.capi, err = peer.NewClientAPI(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.svc.Close()
		h.trunks.Close()
		h.peers.Close()
	})
	return h
}

// agent is a signed-in test agent: a pion client playing its own tone.
type agent struct {
	t      testing.TB
	h      *harness
	ext    string
	sess   *cti.AgentSession
	client *peer.Client
	heard  *mediatest.ToneDetector
	calls  chan cti.CallInfo
	digits chan rune // digits reported by the server as events
	rtpDig chan rune // digits arriving as RFC 4733 in the agent's audio
	// quality brings the call-quality warnings the agent is told.
	quality chan cti.AgentQuality
}

func (h *harness) signIn(ext string, toneHz float64) *agent {
	h.t.Helper()
	return h.signInWith(ext, toneHz, false)
}

// signInWith signs in; takeover moves the agent's session (and calls)
// from a live one, as a reloaded page does.
func (h *harness) signInWith(ext string, toneHz float64, takeover bool) *agent {
	h.t.Helper()
	u := h.users[ext]
	sess, err := h.svc.Connect(h.ctx, cti.Principal{TenantID: tenant, UserID: u.ID, Username: u.Username, Extension: ext, Role: u.Role}, takeover)
	if err != nil {
		h.t.Fatal(err)
	}
	a := &agent{t: h.t, h: h, ext: ext, sess: sess, heard: mediatest.NewToneDetector(mediatest.ToneDetectorConfig{}),
		calls: make(chan cti.CallInfo, 64), digits: make(chan rune, 64), rtpDig: make(chan rune, 64),
		quality: make(chan cti.AgentQuality, 64)}
	go func() {
		for {
			select {
			case ev := <-sess.Events():
				switch ev.Kind {
				case cti.EventCall:
					a.calls <- *ev.Call
				case cti.EventDTMF:
					a.digits <- ev.Digit
				case cti.EventQuality:
					select {
					case a.quality <- *ev.Quality:
					default:
					}
				}
			case <-sess.Done():
				return
			}
		}
	}()
	if a.client, err = h.capi.NewClient(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { a.client.Close() })
	offer, err := a.client.Offer(h.ctx, false)
	if err != nil {
		h.t.Fatal(err)
	}
	answer, err := sess.HandleOffer(h.ctx, offer)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := a.client.SetAnswer(answer); err != nil {
		h.t.Fatal(err)
	}
	select {
	case <-a.client.Connected():
	case <-h.ctx.Done():
		h.t.Fatal("agent peer never connected")
	}
	gen := mediatest.NewToneGenerator(toneHz, 0.3, 8000)
	a.client.SendAudio(gen.NextPCMU)
	a.client.OnAudio(a.heard.WriteUlaw)
	a.client.OnDTMF(func(d rune) { a.rtpDig <- d })
	return a
}

// waitCall waits for a call event in the given state.
func (a *agent) waitCall(state cti.CallState) cti.CallInfo {
	a.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ci := <-a.calls:
			if ci.State == state {
				return ci
			}
		case <-timeout:
			a.t.Fatalf("agent %s: no call event in state %s", a.ext, state)
			return cti.CallInfo{}
		}
	}
}

// hears waits until the agent's decoded audio carries toneHz.
func (a *agent) hears(toneHz float64) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(a.h.ctx, 10*time.Second)
	defer cancel()
	if err := a.heard.WaitFor(ctx, toneHz); err != nil {
		a.t.Fatalf("agent %s does not hear %.0f Hz: %v", a.ext, toneHz, err)
	}
}

func collectDigits(t testing.TB, ch <-chan rune, n int) string {
	t.Helper()
	var got []rune
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case d := <-ch:
			got = append(got, d)
		case <-timeout:
			t.Fatalf("got digits %q, want %d digits", string(got), n)
		}
	}
	return string(got)
}

// farEnd is a carrier-side call with its own tone and detector.
type farEnd struct {
	call   *trunk.PhoneCall
	heard  *mediatest.ToneDetector
	digits chan rune
}

func newFarEnd(c *trunk.PhoneCall, toneHz float64) *farEnd {
	f := &farEnd{call: c, heard: mediatest.NewToneDetector(mediatest.ToneDetectorConfig{}), digits: make(chan rune, 64)}
	gen := mediatest.NewToneGenerator(toneHz, 0.3, 8000)
	c.SendAudio(func(codec rtpio.Codec, dst []byte) {
		if codec == rtpio.CodecPCMA {
			gen.NextPCMA(dst)
		} else {
			gen.NextPCMU(dst)
		}
	})
	c.OnAudio(func(codec rtpio.Codec, p []byte) {
		if codec == rtpio.CodecPCMA {
			f.heard.WriteAlaw(p)
		} else {
			f.heard.WriteUlaw(p)
		}
	})
	c.OnDTMF(func(d rune) { f.digits <- d })
	return f
}

func (f *farEnd) hears(t testing.TB, ctx context.Context, toneHz float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := f.heard.WaitFor(ctx, toneHz); err != nil {
		t.Fatalf("far end does not hear %.0f Hz: %v", toneHz, err)
	}
}

// dialIn makes the carrier call a number on ringbridge, in the background.
func (h *harness) dialIn(number string) (<-chan *trunk.PhoneCall, <-chan error) {
	calls, errs := make(chan *trunk.PhoneCall, 1), make(chan error, 1)
	go func() {
		c, err := h.carrier.Dial(h.ctx, "sip:"+number+"@"+h.sipAddr.String(), callerNum)
		if err != nil {
			errs <- err
			return
		}
		calls <- c
	}()
	return calls, errs
}

func waitDialed(t testing.TB, calls <-chan *trunk.PhoneCall, errs <-chan error) *trunk.PhoneCall {
	t.Helper()
	select {
	case c := <-calls:
		return c
	case err := <-errs:
		t.Fatalf("carrier call failed: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("carrier call never answered")
	}
	return nil
}

func waitDone(t testing.TB, c *trunk.PhoneCall) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("carrier call did not end")
	}
}

func contextWithCancel(h *harness) (context.Context, context.CancelFunc) {
	return context.WithCancel(h.ctx)
}

// listenSIP binds UDP and TCP on the same free port, as a SIP server does;
// a port free for UDP may be taken for TCP, so try a few.
func listenSIP(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		udp, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err == nil {
			return udp, tcp
		}
		udp.Close()
	}
	t.Fatal("no port free for both UDP and TCP")
	return nil, nil
}

// answerInbound has the carrier call number, the agent answer it, and
// returns the ringing call as the agent saw it and the carrier's side,
// sending carrierTone and listening.
func (h *harness) answerInbound(a *agent, number string) (cti.CallInfo, *farEnd) {
	h.t.Helper()
	calls, errs := h.dialIn(number)
	ring := a.waitCall(cti.CallRinging)
	if err := a.sess.Answer(ring.ID); err != nil {
		h.t.Fatal(err)
	}
	return ring, newFarEnd(waitDialed(h.t, calls, errs), carrierTone)
}
