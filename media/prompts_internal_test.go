package media

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ringbridge/ringbridge/media/g711"
	"github.com/ringbridge/ringbridge/media/player"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/wav"
)

// A stored prompt plays once, whole, padded with silence to whole frames
// (never wrapping round to its start), then the sequence is done.
func TestPromptPartsPlayOnceInWholeFrames(t *testing.T) {
	pcm := make([]int16, 170)
	for i := range pcm {
		pcm[i] = int16(1000 + 100*i)
	}
	var b bytes.Buffer
	if err := wav.Write(&b, pcm, 8000); err != nil {
		t.Fatal(err)
	}
	parts, err := promptParts(b.Bytes())
	if err != nil || len(parts) != 1 || parts[0].Frames != 2 {
		t.Fatalf("parts %+v, %v", parts, err)
	}
	seq := player.NewSequence(parts, false)
	var got []int16
	frame := make([]byte, 160)
	out := make([]int16, 160)
	for range 2 {
		seq.Next(rtpio.CodecPCMA, frame)
		g711.DecodeAlawTo(out, frame)
		got = append(got, out...)
	}
	seq.Next(rtpio.CodecPCMA, frame) // past the end: silence, and done
	g711.DecodeAlawTo(out, frame)
	if !seq.Done() || out[0] < -8 || out[0] > 8 {
		t.Fatalf("after its frames the prompt is not over: done %v, sample %d", seq.Done(), out[0])
	}
	for i, v := range pcm {
		if d := int(got[i]) - int(v); d < -700 || d > 700 { // A-law's step at these levels
			t.Fatalf("sample %d: %d, want about %d", i, got[i], v)
		}
	}
	for i := len(pcm); i < len(got); i++ {
		if got[i] < -8 || got[i] > 8 {
			t.Fatalf("padding sample %d is %d, want silence", i, got[i])
		}
	}

	b.Reset()
	_ = wav.Write(&b, pcm, 16000)
	if _, err := promptParts(b.Bytes()); err == nil || !strings.Contains(err.Error(), "16000") {
		t.Fatalf("a 16 kHz prompt: %v", err)
	}
}
