package rtpio

import (
	"github.com/ringbridge/ringbridge/media/dtmf"
	"github.com/ringbridge/ringbridge/media/g711"
)

// inband finds DTMF key presses in a leg's audio, for far ends that send
// no RFC 4733 events (their format has no event payload type). The
// detector's minimum press length and pause are its talk-off protection
// (media/dtmf). Used only on the reader's read loop.
type inband struct {
	det *dtmf.Detector
	pcm [MTU]int16
}

// detect decodes an audio frame and returns the keys pressed in it.
func (in *inband) detect(f *Frame) []rune {
	var n int
	switch f.Codec {
	case CodecPCMU:
		n = g711.DecodeUlawTo(in.pcm[:], f.Payload)
	case CodecPCMA:
		n = g711.DecodeAlawTo(in.pcm[:], f.Payload)
	default:
		return nil
	}
	return in.det.Write(in.pcm[:n])
}

// setInband turns in-band detection on for a format without telephone
// events, off otherwise.
func (r *Reader) setInband(f Format) {
	switch {
	case f.EventPT != 0 || f.Codec == CodecNone:
		r.inband.Store(nil)
	case r.inband.Load() == nil:
		r.inband.Store(&inband{det: dtmf.NewDetector(8000)})
	}
}
