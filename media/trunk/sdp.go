package trunk

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// Errors from reading a far end's SDP; each maps to a SIP status.
var (
	ErrBadSDP  = errors.New("malformed SDP")          // 400
	ErrNoCodec = errors.New("no common audio codec")  // 488
	ErrNoAudio = errors.New("no audio stream in SDP") // 488
)

// remoteMedia is what we take from the far end's SDP.
type remoteMedia struct {
	addr      netip.AddrPort
	format    rtpio.Format
	direction string // sendrecv, sendonly, recvonly, inactive
}

// parseSDP reads the first audio stream of an offer or answer and picks
// the codec: the far end's first choice among PCMU and PCMA.
func parseSDP(body []byte) (remoteMedia, error) {
	var rm remoteMedia
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(body)); err != nil {
		return rm, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	var audio *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" && m.MediaName.Port.Value != 0 {
			audio = m
			break
		}
	}
	if audio == nil {
		return rm, ErrNoAudio
	}
	conn := audio.ConnectionInformation
	if conn == nil {
		conn = sd.ConnectionInformation
	}
	if conn == nil || conn.Address == nil {
		return rm, fmt.Errorf("%w: no connection address", ErrBadSDP)
	}
	ip, err := netip.ParseAddr(conn.Address.Address)
	if err != nil {
		return rm, fmt.Errorf("%w: connection address %q is not an IP", ErrBadSDP, conn.Address.Address)
	}
	port := audio.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return rm, fmt.Errorf("%w: bad port %d", ErrBadSDP, port)
	}
	rm.addr = netip.AddrPortFrom(ip, uint16(port))

	rtpmap := map[uint8]string{0: "pcmu/8000", 8: "pcma/8000"}
	rm.direction = "sendrecv"
	for _, a := range append(sd.Attributes, audio.Attributes...) {
		switch a.Key {
		case "rtpmap":
			pt, enc, ok := strings.Cut(a.Value, " ")
			n, err := strconv.Atoi(pt)
			if ok && err == nil && n >= 0 && n < 128 {
				rtpmap[uint8(n)] = encodingKey(enc)
			}
		case "sendrecv", "sendonly", "recvonly", "inactive":
			rm.direction = a.Key
		}
	}
	for _, f := range audio.MediaName.Formats {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > 127 {
			continue
		}
		enc := rtpmap[uint8(n)]
		switch {
		case enc == "pcmu/8000" && rm.format.Codec == rtpio.CodecNone:
			rm.format.Codec, rm.format.AudioPT = rtpio.CodecPCMU, uint8(n)
		case enc == "pcma/8000" && rm.format.Codec == rtpio.CodecNone:
			rm.format.Codec, rm.format.AudioPT = rtpio.CodecPCMA, uint8(n)
		case enc == "telephone-event/8000" && rm.format.EventPT == 0:
			rm.format.EventPT = uint8(n)
		}
	}
	if rm.format.Codec == rtpio.CodecNone {
		return rm, ErrNoCodec
	}
	return rm, nil
}

// encodingKey normalises an rtpmap encoding for comparison: lower case,
// and without the channel count when it is the default of one, which
// RFC 4566 §6 lets an offer write ("PCMU/8000/1") or leave out.
func encodingKey(enc string) string {
	enc = strings.ToLower(strings.TrimSpace(enc))
	if name, rest, ok := strings.Cut(enc, "/"); ok {
		if rate, channels, ok := strings.Cut(rest, "/"); ok && channels == "1" {
			return name + "/" + rate
		}
	}
	return enc
}

// defaultEventPT is what we offer for telephone-event.
const defaultEventPT = 101

// buildSDP writes our SDP. With offer set, both G.711 flavours and
// telephone-event are listed; otherwise only the format chosen from the
// far end's offer.
func buildSDP(sessID, version uint64, local netip.AddrPort, f rtpio.Format, offer bool, direction string) []byte {
	ipv := "IP4"
	if local.Addr().Is6() {
		ipv = "IP6"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=ringbridge %d %d IN %s %s\r\ns=ringbridge\r\nc=IN %s %s\r\nt=0 0\r\n",
		sessID, version, ipv, local.Addr(), ipv, local.Addr())
	var pts []string
	var maps []string
	if offer {
		pts = []string{"0", "8", strconv.Itoa(defaultEventPT)}
		maps = []string{"a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
			fmt.Sprintf("a=rtpmap:%d telephone-event/8000", defaultEventPT), fmt.Sprintf("a=fmtp:%d 0-16", defaultEventPT)}
	} else {
		name := "PCMU"
		if f.Codec == rtpio.CodecPCMA {
			name = "PCMA"
		}
		pts = []string{strconv.Itoa(int(f.AudioPT))}
		maps = []string{fmt.Sprintf("a=rtpmap:%d %s/8000", f.AudioPT, name)}
		if f.EventPT != 0 {
			pts = append(pts, strconv.Itoa(int(f.EventPT)))
			maps = append(maps, fmt.Sprintf("a=rtpmap:%d telephone-event/8000", f.EventPT), fmt.Sprintf("a=fmtp:%d 0-16", f.EventPT))
		}
	}
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %s\r\n", local.Port(), strings.Join(pts, " "))
	for _, m := range maps {
		b.WriteString(m)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "a=ptime:20\r\na=%s\r\n", direction)
	return []byte(b.String())
}

// answerDirection is the direction we answer a far end's direction with.
func answerDirection(remote string) string {
	switch remote {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}
