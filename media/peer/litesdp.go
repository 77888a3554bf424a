package peer

// The SDP half of the ICE-lite transport: the server answers a browser's
// offer itself instead of through a pion PeerConnection. It only ever
// accepts one audio line carrying PCMU (plus RFC 4733 events), over
// DTLS-SRTP with rtcp-mux, and rejects everything else line by line, so
// the answer is small enough to reason about and to check against what
// Chrome, Firefox and pion accept.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// offerInfo is what the server needs from a browser's offer.
type offerInfo struct {
	ufrag, pwd string // the browser's ICE credentials (media level, else session level)
	fpAlg, fp  string // fingerprint algorithm lower-case ("sha-256") and value upper-case hex with colons
	setup      string // "actpass", "active" or "passive" (missing → "actpass")
	audioIndex int    // index of the first audio m-line that offers PCMU (payload 0, or rtpmap PCMU/8000)
	audioMid   string // its a=mid ("" if none)
	// pcmuPT is PCMU's payload type in that m-line: 0 from every browser,
	// but an offer may map PCMU to a dynamic type, and RFC 3264 wants the
	// answer to keep the offerer's number.
	pcmuPT  uint8
	eventPT uint8 // payload type of telephone-event/8000 in that m-line, 0 when absent
	rtcpMux bool  // a=rtcp-mux present on the audio m-line
}

// fingerprintLen is the digest size in bytes of each hash the DTLS side
// can verify; md2 and md5 are left out on purpose (RFC 8122 §5).
var fingerprintLen = map[string]int{"sha-1": 20, "sha-224": 28, "sha-256": 32, "sha-384": 48, "sha-512": 64}

// errUnanswerable marks every parseOffer error, so the signalling layer
// can tell a browser's bad offer (tell the agent) from a server fault.
var errUnanswerable = errors.New("cannot answer offer")

// parseOffer reads an offer and returns an error for anything the server
// cannot answer, so that a bad offer fails at signalling time with a
// message the agent's page can show, never halfway through ICE or DTLS.
func parseOffer(raw string) (*sdp.SessionDescription, offerInfo, error) {
	var info offerInfo
	offer := &sdp.SessionDescription{}
	if err := offer.UnmarshalString(raw); err != nil {
		return nil, info, fmt.Errorf("%w: %w", errUnanswerable, err)
	}
	for i, m := range offer.MediaDescriptions {
		if len(m.MediaName.Protos) == 0 || len(m.MediaName.Formats) == 0 {
			return nil, info, fmt.Errorf("%w: m-line %d has no proto or no formats", errUnanswerable, i)
		}
	}
	m, idx := audioLine(offer, &info)
	if m == nil {
		return nil, info, fmt.Errorf("%w: no audio m-line offering PCMU", errUnanswerable)
	}
	info.audioIndex = idx
	if proto := strings.Join(m.MediaName.Protos, "/"); proto != "UDP/TLS/RTP/SAVPF" {
		return nil, info, fmt.Errorf("%w: audio proto %q is not UDP/TLS/RTP/SAVPF", errUnanswerable, proto)
	}
	info.audioMid, _ = m.Attribute(sdp.AttrKeyMID)
	if info.ufrag = attr(offer, m, "ice-ufrag"); info.ufrag == "" {
		return nil, info, fmt.Errorf("%w: no ice-ufrag", errUnanswerable)
	}
	if info.pwd = attr(offer, m, "ice-pwd"); info.pwd == "" {
		return nil, info, fmt.Errorf("%w: no ice-pwd", errUnanswerable)
	}
	if err := offerFingerprint(offer, m, &info); err != nil {
		return nil, info, fmt.Errorf("%w: %w", errUnanswerable, err)
	}
	switch info.setup = attr(offer, m, sdp.AttrKeyConnectionSetup); info.setup {
	case "":
		info.setup = "actpass"
	case "actpass", "active", "passive":
	default:
		return nil, info, fmt.Errorf("%w: unsupported setup %q", errUnanswerable, info.setup)
	}
	_, info.rtcpMux = m.Attribute(sdp.AttrKeyRTCPMux)
	if !info.rtcpMux {
		return nil, info, fmt.Errorf("%w: no rtcp-mux on the audio m-line", errUnanswerable)
	}
	return offer, info, nil
}

// audioLine finds the first live audio line with PCMU and fills in the
// payload types. A port-0 line is a stopped transceiver (JSEP §5.2.2)
// unless it is bundle-only, so it is passed over.
func audioLine(offer *sdp.SessionDescription, info *offerInfo) (*sdp.MediaDescription, int) {
	for i, m := range offer.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		if _, bundleOnly := m.Attribute("bundle-only"); m.MediaName.Port.Value == 0 && !bundleOnly {
			continue
		}
		maps := rtpmaps(m)
		pcmu, event := -1, 0
		for _, f := range m.MediaName.Formats {
			pt, err := strconv.ParseUint(f, 10, 7)
			if err != nil {
				continue
			}
			enc, mapped := maps[uint8(pt)]
			if pcmu < 0 && (enc == "pcmu/8000" || enc == "pcmu/8000/1" || (pt == 0 && !mapped)) {
				pcmu = int(pt)
			}
			if event == 0 && pt != 0 && (enc == "telephone-event/8000" || enc == "telephone-event/8000/1") {
				event = int(pt)
			}
		}
		if pcmu >= 0 {
			info.pcmuPT, info.eventPT = uint8(pcmu), uint8(event)
			return m, i
		}
	}
	return nil, -1
}

// rtpmaps maps payload type to lower-case "encoding/clock[/channels]".
func rtpmaps(m *sdp.MediaDescription) map[uint8]string {
	maps := map[uint8]string{}
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		ptStr, enc, ok := strings.Cut(a.Value, " ")
		pt, err := strconv.ParseUint(ptStr, 10, 7)
		if ok && err == nil {
			maps[uint8(pt)] = strings.ToLower(strings.TrimSpace(enc))
		}
	}
	return maps
}

// attr reads an attribute from the media line, falling back to the
// session level, as RFC 8839 and RFC 8122 both allow either place.
func attr(offer *sdp.SessionDescription, m *sdp.MediaDescription, key string) string {
	if v, ok := m.Attribute(key); ok {
		return strings.TrimSpace(v)
	}
	v, _ := offer.Attribute(key)
	return strings.TrimSpace(v)
}

// offerFingerprint takes the first fingerprint with a hash we verify;
// a browser may list several, and only when none is usable does the
// offer fail, naming the algorithm it offered.
func offerFingerprint(offer *sdp.SessionDescription, m *sdp.MediaDescription, info *offerInfo) error {
	attrs := m.Attributes
	if _, ok := m.Attribute("fingerprint"); !ok {
		attrs = offer.Attributes
	}
	var first error
	for _, a := range attrs {
		if a.Key != "fingerprint" {
			continue
		}
		alg, value, _ := strings.Cut(strings.TrimSpace(a.Value), " ")
		alg, value = strings.ToLower(alg), strings.ToUpper(strings.TrimSpace(value))
		err := checkFingerprint(alg, value)
		if err == nil {
			info.fpAlg, info.fp = alg, value
			return nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		return errors.New("no fingerprint")
	}
	return first
}

// checkFingerprint insists on the exact digest length so that a
// truncated fingerprint fails here rather than as a DTLS mismatch.
func checkFingerprint(alg, value string) error {
	n, ok := fingerprintLen[alg]
	if !ok {
		return fmt.Errorf("unsupported fingerprint algorithm %s", alg)
	}
	parts := strings.Split(value, ":")
	if len(parts) != n {
		return fmt.Errorf("%s fingerprint has %d bytes, want %d", alg, len(parts), n)
	}
	for _, p := range parts {
		if len(p) != 2 || strings.Trim(p, "0123456789ABCDEF") != "" {
			return fmt.Errorf("%s fingerprint is not colon-separated hex", alg)
		}
	}
	return nil
}

// answerParams is the server's side of the answer.
type answerParams struct {
	sessionID, version       uint64
	ufrag, pwd               string
	fingerprint              string // sha-256, upper-case hex with colons
	setup                    string // "active" or "passive"
	ssrc                     uint32
	cname, streamID, trackID string
	candidates               []string // full candidate attribute values, e.g. "candidate:1 1 udp 2130706431 127.0.0.1 3478 typ host"
}

// answerDirection mirrors the offered direction (RFC 3264 §6.1); an
// offer without one means sendrecv.
func answerDirection(m *sdp.MediaDescription) string {
	for _, a := range m.Attributes {
		switch a.Key {
		case sdp.AttrKeySendOnly:
			return sdp.AttrKeyRecvOnly
		case sdp.AttrKeyRecvOnly:
			return sdp.AttrKeySendOnly
		case sdp.AttrKeyInactive:
			return sdp.AttrKeyInactive
		}
	}
	return sdp.AttrKeySendRecv
}

// buildAnswer returns the answer SDP for the parsed offer. It keeps one
// m-line per offered line with the same mids, as JSEP requires, so the
// browser can pair them; only the audio line carries ICE and DTLS.
func buildAnswer(offer *sdp.SessionDescription, info offerInfo, p answerParams) (string, error) {
	if err := p.check(info); err != nil {
		return "", fmt.Errorf("build answer: %w", err)
	}
	if info.audioIndex < 0 || info.audioIndex >= len(offer.MediaDescriptions) {
		return "", fmt.Errorf("build answer: audio index %d out of range", info.audioIndex)
	}
	ans := &sdp.SessionDescription{
		Origin: sdp.Origin{
			Username: "-", SessionID: p.sessionID, SessionVersion: p.version,
			NetworkType: "IN", AddressType: "IP4", UnicastAddress: "0.0.0.0",
		},
		SessionName:      "-",
		TimeDescriptions: []sdp.TimeDescription{{}},
		Attributes:       []sdp.Attribute{sdp.NewPropertyAttribute(sdp.AttrKeyICELite)},
	}
	if info.audioMid != "" && bundles(offer, info.audioMid) {
		ans.Attributes = append(ans.Attributes, sdp.NewAttribute(sdp.AttrKeyGroup, "BUNDLE "+info.audioMid))
	}
	zero := &sdp.ConnectionInformation{NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: "0.0.0.0"}}
	for i, om := range offer.MediaDescriptions {
		m := &sdp.MediaDescription{ConnectionInformation: zero}
		mid, hasMid := om.Attribute(sdp.AttrKeyMID)
		if i != info.audioIndex {
			m.MediaName = sdp.MediaName{Media: om.MediaName.Media, Protos: om.MediaName.Protos, Formats: om.MediaName.Formats[:1]}
			if hasMid {
				m.Attributes = append(m.Attributes, sdp.NewAttribute(sdp.AttrKeyMID, mid))
			}
			m.Attributes = append(m.Attributes, sdp.NewPropertyAttribute(sdp.AttrKeyInactive))
			// pion reads the codec of every line, rejected or not, and
			// refuses a dynamic payload type it cannot name.
			for _, a := range om.Attributes {
				if a.Key == "rtpmap" && strings.HasPrefix(a.Value, om.MediaName.Formats[0]+" ") {
					m.Attributes = append(m.Attributes, a)
					break
				}
			}
			ans.MediaDescriptions = append(ans.MediaDescriptions, m)
			continue
		}
		ans.MediaDescriptions = append(ans.MediaDescriptions, audioAnswer(m, answerDirection(om), info, p))
	}
	out, err := ans.Marshal()
	if err != nil {
		return "", fmt.Errorf("build answer: %w", err)
	}
	return string(out), nil
}

// audioAnswer fills in the accepted line. No rtcp-fb and no extmap: we
// negotiate no feedback and no header extensions, and saying nothing is
// how an answer declines them.
func audioAnswer(m *sdp.MediaDescription, dir string, info offerInfo, p answerParams) *sdp.MediaDescription {
	pcmu := strconv.Itoa(int(info.pcmuPT))
	event := strconv.Itoa(int(info.eventPT))
	m.MediaName = sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: 9}, Protos: []string{"UDP", "TLS", "RTP", "SAVPF"}, Formats: []string{pcmu}}
	if info.eventPT != 0 {
		m.MediaName.Formats = append(m.MediaName.Formats, event)
	}
	add := func(k, v string) { m.Attributes = append(m.Attributes, sdp.NewAttribute(k, v)) }
	add("rtcp", "9 IN IP4 0.0.0.0")
	for _, c := range p.candidates {
		add(sdp.AttrKeyCandidate, strings.TrimPrefix(c, "candidate:"))
	}
	add(sdp.AttrKeyEndOfCandidates, "")
	add("ice-ufrag", p.ufrag)
	add("ice-pwd", p.pwd)
	add("fingerprint", "sha-256 "+p.fingerprint)
	add(sdp.AttrKeyConnectionSetup, p.setup)
	if info.audioMid != "" {
		add(sdp.AttrKeyMID, info.audioMid)
	}
	add(dir, "")
	add(sdp.AttrKeyRTCPMux, "")
	add("rtpmap", pcmu+" PCMU/8000")
	if info.eventPT != 0 {
		add("rtpmap", event+" telephone-event/8000")
		add("fmtp", event+" 0-16")
	}
	// ssrc and msid announce what we send; a line we only receive on has none.
	if dir == sdp.AttrKeySendRecv || dir == sdp.AttrKeySendOnly {
		ssrc := strconv.FormatUint(uint64(p.ssrc), 10)
		add(sdp.AttrKeySSRC, ssrc+" cname:"+p.cname)
		add(sdp.AttrKeySSRC, ssrc+" msid:"+p.streamID+" "+p.trackID)
		add(sdp.AttrKeyMsid, p.streamID+" "+p.trackID)
	}
	return m
}

// bundles reports whether the offer put mid in a BUNDLE group: only then
// may the answer bundle it (RFC 9143 §7.3).
func bundles(offer *sdp.SessionDescription, mid string) bool {
	for _, a := range offer.Attributes {
		if f := strings.Fields(a.Value); a.Key == sdp.AttrKeyGroup && len(f) > 0 && f[0] == "BUNDLE" {
			for _, m := range f[1:] {
				if m == mid {
					return true
				}
			}
		}
	}
	return false
}

// check refuses parameters that would make an answer the browser rejects
// late, or that would let a value smuggle extra SDP lines in.
func (p answerParams) check(info offerInfo) error {
	if len(p.ufrag) < 4 || len(p.pwd) < 22 {
		return errors.New("ice-ufrag needs 4 characters and ice-pwd 22 (RFC 8839 §5.4)")
	}
	if err := checkFingerprint("sha-256", p.fingerprint); err != nil {
		return err
	}
	if p.setup != "active" && p.setup != "passive" {
		return fmt.Errorf("setup %q is neither active nor passive", p.setup)
	}
	if p.setup == info.setup {
		return fmt.Errorf("setup %s answers an offer that is also %s", p.setup, info.setup)
	}
	for _, s := range append([]string{p.ufrag, p.pwd, p.cname, p.streamID, p.trackID, info.audioMid}, p.candidates...) {
		if strings.ContainsAny(s, "\r\n") {
			return errors.New("line break in an answer value")
		}
	}
	for _, s := range []string{p.cname, p.streamID, p.trackID} {
		if s == "" || strings.Contains(s, " ") {
			return fmt.Errorf("cname, stream and track id must be single words, got %q", s)
		}
	}
	return nil
}
