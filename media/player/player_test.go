package player

import (
	"testing"

	"github.com/ringbridge/ringbridge/media/g711"
	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

func TestToneIsHeardInBothCodecs(t *testing.T) {
	for _, codec := range []rtpio.Codec{rtpio.CodecPCMU, rtpio.CodecPCMA} {
		tone := NewTone(700, 0.3)
		det := mediatest.NewToneDetector(mediatest.ToneDetectorConfig{})
		buf := make([]byte, 160)
		for range 20 {
			tone.Next(codec, buf)
			if codec == rtpio.CodecPCMA {
				det.WriteAlaw(buf)
			} else {
				det.WriteUlaw(buf)
			}
		}
		if !det.Detected(700) || det.Detected(1000) {
			t.Fatalf("%s: 700 Hz tone not recognised", codec)
		}
	}
}

func TestSamplesDownsampleAndLoop(t *testing.T) {
	// 16 kHz input of alternating pairs averages to a constant.
	in := make([]int16, 320)
	for i := range in {
		in[i] = int16(1000 * (i % 2))
	}
	s := NewSamples(in, 16000)
	buf := make([]byte, 160)
	s.Next(rtpio.CodecPCMU, buf)
	if got := g711.DecodeUlaw(buf[0]); got < 480 || got > 520 {
		t.Fatalf("decimated sample %d, want about 500", got)
	}
	s.Next(rtpio.CodecPCMU, buf) // loops without panicking
}
