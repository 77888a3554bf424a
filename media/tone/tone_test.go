package tone

import (
	"testing"

	"github.com/ringbridge/ringbridge/media/player"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

func TestMeterHearsOnlyItsTone(t *testing.T) {
	for _, codec := range []rtpio.Codec{rtpio.CodecPCMU, rtpio.CodecPCMA} {
		m440, m1000 := NewMeter(440, 10), NewMeter(1000, 10)
		src := player.NewTone(440, 0.2)
		buf := make([]byte, 160)
		for range 15 {
			src.Next(codec, buf)
			m440.Write(codec, buf)
			m1000.Write(codec, buf)
		}
		if !m440.Heard() || m1000.Heard() {
			t.Fatalf("%s: 440 heard=%v, 1000 heard=%v", codec, m440.Heard(), m1000.Heard())
		}
		if m440.Frames() != 15 || m1000.Frames() != 0 {
			t.Fatalf("%s: tone frames 440=%d 1000=%d, want 15 and 0", codec, m440.Frames(), m1000.Frames())
		}
	}
	silent := NewMeter(440, 10)
	zero := make([]byte, 160)
	for i := range zero {
		zero[i] = 0xFF
	}
	for range 20 {
		silent.Write(rtpio.CodecPCMU, zero)
	}
	if silent.Heard() {
		t.Fatal("silence heard as a tone")
	}
}
