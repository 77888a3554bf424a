package peer

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// An audio-only offer as Chrome 120+ writes it: BUNDLE, opus first, two
// telephone-event rates, header extensions, trickle.
const chromeOffer = "v=0\r\n" +
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE 0\r\n" +
	"a=extmap-allow-mixed\r\n" +
	"a=msid-semantic: WMS 3c6bd0f2-1d3e-4bb5-9c6e-7f4b2ad6c1e3\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:Kp1w\r\n" +
	"a=ice-pwd:q2Sx3yVAhNw5UuGX9f2dT1Lz\r\n" +
	"a=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 5E:A2:1F:6B:2C:8D:90:0A:77:3B:C4:DE:12:F0:9A:41:6C:BB:03:58:E7:21:4F:AD:98:10:CE:5D:36:7A:B2:E4\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:0\r\n" +
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n" +
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n" +
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n" +
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n" +
	"a=sendrecv\r\n" +
	"a=msid:3c6bd0f2-1d3e-4bb5-9c6e-7f4b2ad6c1e3 9a1f0c55-2b7e-4d83-a6f1-0e4c3b8d7a21\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtcp-rsize\r\n" +
	"a=rtpmap:111 opus/48000/2\r\n" +
	"a=rtcp-fb:111 transport-cc\r\n" +
	"a=fmtp:111 minptime=10;useinbandfec=1\r\n" +
	"a=rtpmap:63 red/48000/2\r\n" +
	"a=fmtp:63 111/111\r\n" +
	"a=rtpmap:9 G722/8000\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:13 CN/8000\r\n" +
	"a=rtpmap:110 telephone-event/48000\r\n" +
	"a=rtpmap:126 telephone-event/8000\r\n" +
	"a=ssrc:1409291512 cname:b7aXmN1K0d3pQ2rS\r\n" +
	"a=ssrc:1409291512 msid:3c6bd0f2-1d3e-4bb5-9c6e-7f4b2ad6c1e3 9a1f0c55-2b7e-4d83-a6f1-0e4c3b8d7a21\r\n"

// Firefox puts its fingerprint at session level, numbers mids by order
// of creation, and offers telephone-event as 101.
const firefoxOffer = "v=0\r\n" +
	"o=mozilla...THIS_IS_SDPARTA-99.0 7432150826362427410 0 IN IP4 0.0.0.0\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=fingerprint:sha-256 0B:6E:62:C5:A8:2F:99:14:3D:71:E0:BA:5C:47:28:F3:11:AD:6C:90:4B:EE:17:32:D8:05:9F:C3:7A:61:BE:40\r\n" +
	"a=group:BUNDLE 0\r\n" +
	"a=ice-options:trickle\r\n" +
	"a=msid-semantic:WMS *\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=sendrecv\r\n" +
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n" +
	"a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level\r\n" +
	"a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n" +
	"a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\r\n" +
	"a=fmtp:101 0-15\r\n" +
	"a=ice-pwd:9c2a5f0e7b4d1c8a3e6f2b9d0c7a4e1f\r\n" +
	"a=ice-ufrag:3f8e2a1c\r\n" +
	"a=mid:0\r\n" +
	"a=msid:{5e2c0a7d-3b1f-4c8e-9a6d-2f0b7e4c1a93} {8d1e4b7a-0c3f-4a2e-b6d9-1f7c0e3a5b82}\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtpmap:109 opus/48000/2\r\n" +
	"a=rtpmap:9 G722/8000/1\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000/1\r\n" +
	"a=setup:actpass\r\n" +
	"a=ssrc:2657813944 cname:{c1f7a3e2-9b4d-4e0a-8c6f-3d2b1a0e9f7c}\r\n"

func testParams() answerParams {
	return answerParams{
		sessionID: 8094713652481, version: 2,
		ufrag: "srvU", pwd: "abcdefghijklmnopqrstuvwx",
		fingerprint: "A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90:A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90",
		setup:       "passive", ssrc: 0xdeadbeef, cname: "ringbridge", streamID: "rb-stream", trackID: "rb-audio",
		candidates: []string{"candidate:1 1 udp 2130706431 127.0.0.1 3478 typ host"},
	}
}

// answerOf parses the offer, answers it and parses the answer back.
func answerOf(t *testing.T, offer string, p answerParams) (offerInfo, string, *sdp.SessionDescription) {
	t.Helper()
	parsed, info, err := parseOffer(offer)
	if err != nil {
		t.Fatalf("parseOffer: %v", err)
	}
	ans, err := buildAnswer(parsed, info, p)
	if err != nil {
		t.Fatalf("buildAnswer: %v", err)
	}
	back := &sdp.SessionDescription{}
	if err := back.UnmarshalString(ans); err != nil {
		t.Fatalf("answer does not parse back: %v\n%s", err, ans)
	}
	if len(back.MediaDescriptions) != len(parsed.MediaDescriptions) {
		t.Fatalf("answer has %d m-lines for %d offered", len(back.MediaDescriptions), len(parsed.MediaDescriptions))
	}
	for i, om := range parsed.MediaDescriptions {
		om, am := om, back.MediaDescriptions[i]
		if om.MediaName.Media != am.MediaName.Media {
			t.Errorf("m-line %d: %s answers %s", i, am.MediaName.Media, om.MediaName.Media)
		}
		wantMid, _ := om.Attribute(sdp.AttrKeyMID)
		if mid, _ := am.Attribute(sdp.AttrKeyMID); mid != wantMid {
			t.Errorf("m-line %d: mid %q answers %q", i, mid, wantMid)
		}
	}
	return info, ans, back
}

func TestParseOfferBrowsers(t *testing.T) {
	for _, tc := range []struct {
		name, offer string
		want        offerInfo
	}{
		{"chrome", chromeOffer, offerInfo{
			ufrag: "Kp1w", pwd: "q2Sx3yVAhNw5UuGX9f2dT1Lz", fpAlg: "sha-256",
			fp:    "5E:A2:1F:6B:2C:8D:90:0A:77:3B:C4:DE:12:F0:9A:41:6C:BB:03:58:E7:21:4F:AD:98:10:CE:5D:36:7A:B2:E4",
			setup: "actpass", audioMid: "0", eventPT: 126, rtcpMux: true,
		}},
		{"firefox", firefoxOffer, offerInfo{
			ufrag: "3f8e2a1c", pwd: "9c2a5f0e7b4d1c8a3e6f2b9d0c7a4e1f", fpAlg: "sha-256",
			fp:    "0B:6E:62:C5:A8:2F:99:14:3D:71:E0:BA:5C:47:28:F3:11:AD:6C:90:4B:EE:17:32:D8:05:9F:C3:7A:61:BE:40",
			setup: "actpass", audioMid: "0", eventPT: 101, rtcpMux: true,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, ans, back := answerOf(t, tc.offer, testParams())
			if info != tc.want {
				t.Fatalf("info\n got %+v\nwant %+v", info, tc.want)
			}
			m := back.MediaDescriptions[0]
			if got := m.MediaName.String(); got != "audio 9 UDP/TLS/RTP/SAVPF 0 "+itoa(tc.want.eventPT) {
				t.Errorf("m-line %q", got)
			}
			for _, want := range []string{
				"a=ice-lite\r\n", "a=group:BUNDLE 0\r\n", "a=setup:passive\r\n", "a=sendrecv\r\n", "a=rtcp-mux\r\n",
				"a=candidate:1 1 udp 2130706431 127.0.0.1 3478 typ host\r\na=end-of-candidates\r\n",
				"a=fmtp:" + itoa(tc.want.eventPT) + " 0-16\r\n", "a=ssrc:3735928559 msid:rb-stream rb-audio\r\n",
				"a=msid:rb-stream rb-audio\r\n",
			} {
				if !strings.Contains(ans, want) {
					t.Errorf("answer lacks %q:\n%s", want, ans)
				}
			}
			for _, banned := range []string{"extmap", "rtcp-fb", "opus", "PCMA", "ice-options"} {
				if strings.Contains(ans, banned) {
					t.Errorf("answer has %q:\n%s", banned, ans)
				}
			}
		})
	}
}

func itoa(pt uint8) string { return strconv.Itoa(int(pt)) }

// The answer mirrors the offered direction, and announces a source only
// when it sends.
func TestAnswerDirection(t *testing.T) {
	for offered, want := range map[string]string{
		"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive",
	} {
		_, ans, back := answerOf(t, strings.Replace(chromeOffer, "a=sendrecv", "a="+offered, 1), testParams())
		m := back.MediaDescriptions[0]
		if _, ok := m.Attribute(want); !ok {
			t.Errorf("offer %s: answer lacks a=%s:\n%s", offered, want, ans)
		}
		_, ssrc := m.Attribute(sdp.AttrKeySSRC)
		_, msid := m.Attribute(sdp.AttrKeyMsid)
		if sends := want == "sendrecv" || want == "sendonly"; ssrc != sends || msid != sends {
			t.Errorf("offer %s: ssrc %v msid %v, want both %v", offered, ssrc, msid, sends)
		}
	}
}

// Only the first PCMU audio line is taken; a second audio line and a
// stopped one are rejected in place, and a dynamic PCMU number is kept.
func TestAnswerRejectsOtherLines(t *testing.T) {
	head, line := chromeOffer[:strings.Index(chromeOffer, "m=audio")], chromeOffer[strings.Index(chromeOffer, "m=audio"):]
	mid := func(m string) *strings.Replacer { return strings.NewReplacer("a=mid:0", "a=mid:"+m) }
	noPCMU := strings.NewReplacer("a=mid:0", "a=mid:a", " 0 8", " 8", "a=rtpmap:0 PCMU/8000\r\n", "").Replace(line)
	stopped := strings.Replace(mid("b").Replace(line), "m=audio 9", "m=audio 0", 1)
	dyn := strings.NewReplacer("a=mid:0", "a=mid:c", " 0 8 13", " 8 13 96", "a=rtpmap:0 PCMU", "a=rtpmap:96 PCMU").Replace(line)
	offer := strings.Replace(head, "BUNDLE 0", "BUNDLE a c d", 1) + noPCMU + stopped + dyn + mid("d").Replace(line)
	info, ans, back := answerOf(t, offer, testParams())
	if info.audioIndex != 2 || info.audioMid != "c" || info.pcmuPT != 96 || info.eventPT != 126 {
		t.Fatalf("took %+v", info)
	}
	if !strings.Contains(ans, "a=group:BUNDLE c\r\n") || !strings.Contains(ans, "m=audio 9 UDP/TLS/RTP/SAVPF 96 126\r\n") ||
		!strings.Contains(ans, "a=rtpmap:96 PCMU/8000\r\n") {
		t.Fatalf("accepted line wrong:\n%s", ans)
	}
	for _, i := range []int{0, 1, 3} {
		m := back.MediaDescriptions[i]
		if m.MediaName.String() != "audio 0 UDP/TLS/RTP/SAVPF 111" {
			t.Errorf("m-line %d not rejected: %s", i, m.MediaName)
		}
		for _, a := range m.Attributes {
			if a.Key != "mid" && a.Key != "inactive" && a.String() != "rtpmap:111 opus/48000/2" {
				t.Errorf("rejected m-line %d carries a=%s", i, a)
			}
		}
	}
}

func TestParseOfferErrors(t *testing.T) {
	r := strings.NewReplacer
	for _, tc := range []struct{ name, offer, want string }{
		{"garbage", "hello\r\nworld", "sdp: syntax error"},
		{"empty", "", "no audio m-line offering PCMU"},
		{"no audio", r("m=audio", "m=video").Replace(chromeOffer), "no audio m-line offering PCMU"},
		{"no PCMU", r(" 0 8", " 8", "a=rtpmap:0 PCMU/8000\r\n", "").Replace(chromeOffer), "no audio m-line offering PCMU"},
		{"PT 0 remapped", r("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 opus/48000/2").Replace(chromeOffer), "no audio m-line offering PCMU"},
		{"not DTLS", r("UDP/TLS/RTP/SAVPF", "RTP/AVP").Replace(chromeOffer), "is not UDP/TLS/RTP/SAVPF"},
		{"no ufrag", r("a=ice-ufrag:Kp1w\r\n", "").Replace(chromeOffer), "no ice-ufrag"},
		{"no pwd", r("a=ice-pwd:q2Sx3yVAhNw5UuGX9f2dT1Lz\r\n", "").Replace(chromeOffer), "no ice-pwd"},
		{"no fingerprint", r("a=fingerprint:", "a=x-fingerprint:").Replace(chromeOffer), "no fingerprint"},
		{"md5", r("sha-256 5E:A2:1F:6B:2C:8D:90:0A:77:3B:C4:DE:12:F0:9A:41", "md5 5E:A2:1F:6B:2C:8D:90:0A:77:3B:C4:DE:12:F0:9A:41", "6C:BB:03:58:E7:21:4F:AD:98:10:CE:5D:36:7A:B2:E4", "").Replace(chromeOffer), "unsupported fingerprint algorithm md5"},
		{"short fingerprint", r(":B2:E4", "").Replace(chromeOffer), "sha-256 fingerprint has 30 bytes, want 32"},
		{"bad setup", r("a=setup:actpass", "a=setup:holdconn").Replace(chromeOffer), `unsupported setup "holdconn"`},
		{"no rtcp-mux", r("a=rtcp-mux\r\n", "").Replace(chromeOffer), "no rtcp-mux"},
		{"no formats", chromeOffer + "m=video 9 UDP/TLS/RTP/SAVPF\r\n", "has no proto or no formats"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseOffer(tc.offer)
			if !errors.Is(err, errUnanswerable) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestBuildAnswerRefusesBadParams(t *testing.T) {
	offer, info, err := parseOffer(strings.Replace(chromeOffer, "a=setup:actpass", "a=setup:passive", 1))
	if err != nil {
		t.Fatal(err)
	}
	good := testParams()
	good.setup = "active"
	if _, err := buildAnswer(offer, info, good); err != nil {
		t.Fatalf("good params refused: %v", err)
	}
	for _, tc := range []struct {
		name, want string
		edit       func(*answerParams)
	}{
		{"same setup", "also passive", func(p *answerParams) { p.setup = "passive" }},
		{"actpass setup", "neither active nor passive", func(p *answerParams) { p.setup = "actpass" }},
		{"short pwd", "ice-pwd 22", func(p *answerParams) { p.pwd = "short" }},
		{"short fingerprint", "has 2 bytes", func(p *answerParams) { p.fingerprint = "AB:CD" }},
		{"line break", "line break", func(p *answerParams) {
			p.candidates = []string{"candidate:1 1 udp 1 127.0.0.1 1 typ host\r\na=x"}
		}},
		{"spaced cname", "single words", func(p *answerParams) { p.cname = "a b" }},
		{"no track id", "single words", func(p *answerParams) { p.trackID = "" }},
	} {
		p := good
		tc.edit(&p)
		if ans, err := buildAnswer(offer, info, p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q\n%s", tc.name, err, tc.want, ans)
		}
	}
}

// pion's own offer, answered by us and fed back: pion is the strictest
// JSEP checker we can run in-process. The variant with video and a data
// channel checks that rejected lines are accepted too.
func TestAnswerAcceptedByPion(t *testing.T) {
	for _, extra := range []bool{false, true} {
		me := &webrtc.MediaEngine{}
		for _, c := range []webrtc.RTPCodecParameters{
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: 101},
		} {
			if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
				t.Fatal(err)
			}
		}
		if extra {
			vp8 := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}
			if err := me.RegisterCodec(vp8, webrtc.RTPCodecTypeVideo); err != nil {
				t.Fatal(err)
			}
		}
		pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pc.Close() })
		kinds := []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio}
		if extra {
			kinds = append(kinds, webrtc.RTPCodecTypeVideo)
			if _, err := pc.CreateDataChannel("chat", nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range kinds {
			init := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}
			if _, err := pc.AddTransceiverFromKind(k, init); err != nil {
				t.Fatal(err)
			}
		}
		offer, err := pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := pc.SetLocalDescription(offer); err != nil {
			t.Fatal(err)
		}
		p := testParams()
		p.setup = "active" // pion offers actpass and prefers to be the DTLS server
		info, ans, back := answerOf(t, offer.SDP, p)
		if info.eventPT != 101 || info.audioIndex != 0 || info.setup != "actpass" {
			t.Fatalf("pion offer read as %+v", info)
		}
		if want := 1 + 2*btoi(extra); len(back.MediaDescriptions) != want {
			t.Fatalf("%d m-lines, want %d:\n%s", len(back.MediaDescriptions), want, ans)
		}
		for _, m := range back.MediaDescriptions[1:] {
			if m.MediaName.Port.Value != 0 {
				t.Errorf("%s line not rejected:\n%s", m.MediaName.Media, ans)
			}
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans}); err != nil {
			t.Fatalf("pion refuses the answer: %v\n%s", err, ans)
		}
		if got := pc.SignalingState(); got != webrtc.SignalingStateStable {
			t.Fatalf("signalling state %s after the answer", got)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func FuzzParseOffer(f *testing.F) {
	for _, s := range []string{chromeOffer, firefoxOffer, "v=0\r\n", "m=audio 0 RTP 0\r\n", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		offer, info, err := parseOffer(raw)
		if err != nil {
			return
		}
		p := testParams()
		if info.setup == "passive" {
			p.setup = "active"
		}
		// Whatever parseOffer accepts must be answerable, and the answer
		// must parse again.
		ans, err := buildAnswer(offer, info, p)
		if err != nil {
			t.Fatalf("accepted offer not answerable: %v\n%q", err, raw)
		}
		if err := (&sdp.SessionDescription{}).UnmarshalString(ans); err != nil {
			t.Fatalf("answer does not parse: %v\n%s", err, ans)
		}
	})
}
