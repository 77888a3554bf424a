package mediatest

import (
	"math"
	"testing"

	"github.com/ringbridge/ringbridge/media/g711"
)

func TestPowerScale(t *testing.T) {
	for _, a := range []float64{1, 0.5, 0.01} {
		g := NewToneGenerator(440, a, 8000)
		pcm := make([]int16, 800)
		g.NextFrame(pcm)
		want := a * a / 2
		if p := Power(pcm, 440, 8000); math.Abs(p-want) > 0.03*want {
			t.Errorf("amplitude %g: Power = %g, want %g", a, p, want)
		}
		if p := MeanPower(pcm); math.Abs(p-want) > 0.03*want {
			t.Errorf("amplitude %g: MeanPower = %g, want %g", a, p, want)
		}
		if p := Power(pcm, 1000, 8000); p > 1e-3*want {
			t.Errorf("amplitude %g: Power at 1000 Hz = %g, want ~0", a, p)
		}
	}
	if Power(nil, 440, 8000) != 0 || MeanPower(nil) != 0 {
		t.Error("empty input should have zero power")
	}
	if got := DBFS(0.5); got != 0 {
		t.Errorf("DBFS(full-scale sine) = %g, want 0", got)
	}
}

// Generating frame by frame must give exactly the signal generated in one
// go, and no sample step may exceed what the sine's slope allows.
func TestPhaseContinuousAcrossFrames(t *testing.T) {
	const (
		rate, freq, amp = 8000, 440.0, 0.5
		frames          = 50
	)
	g := NewToneGenerator(freq, amp, rate)
	var framed []int16
	buf := make([]int16, G711FrameSize)
	for range frames {
		g.NextFrame(buf)
		framed = append(framed, buf...)
	}
	whole := make([]int16, frames*G711FrameSize)
	NewToneGenerator(freq, amp, rate).NextFrame(whole)
	for i := range whole {
		if d := framed[i] - whole[i]; d > 1 || d < -1 {
			t.Fatalf("sample %d: framed %d, continuous %d", i, framed[i], whole[i])
		}
	}

	// Largest legitimate step between samples, plus a rounding unit.
	maxStep := amp*math.MaxInt16*2*math.Pi*freq/rate + 1
	if n := stepsAbove(framed, maxStep); n != 0 {
		t.Errorf("%d sample steps exceed the sine's slope", n)
	}
	// Control: restarting the phase every frame (the bug this guards
	// against) is caught by the same check.
	restarted := make([]int16, 0, len(framed))
	for range frames {
		NewToneGenerator(freq, amp, rate).NextFrame(buf)
		restarted = append(restarted, buf...)
	}
	if n := stepsAbove(restarted, maxStep); n == 0 {
		t.Error("slope check misses per-frame phase resets")
	}
}

func stepsAbove(pcm []int16, limit float64) int {
	n := 0
	for i := 1; i < len(pcm); i++ {
		if math.Abs(float64(pcm[i])-float64(pcm[i-1])) > limit {
			n++
		}
	}
	return n
}

func TestG711PayloadsMatchPCM(t *testing.T) {
	pcm := make([]int16, G711FrameSize)
	NewToneGenerator(1000, 0.3, 8000).NextFrame(pcm)
	u := make([]byte, G711FrameSize)
	a := make([]byte, G711FrameSize)
	NewToneGenerator(1000, 0.3, 8000).NextPCMU(u)
	NewToneGenerator(1000, 0.3, 8000).NextPCMA(a)
	for i, s := range pcm {
		if u[i] != g711.EncodeUlaw(s) || a[i] != g711.EncodeAlaw(s) {
			t.Fatalf("sample %d (%d): PCMU %#02x PCMA %#02x", i, s, u[i], a[i])
		}
	}
}

func TestMultiToneClips(t *testing.T) {
	pcm := make([]int16, 400)
	NewMultiToneGenerator(8000, Tone{300, 0.9}, Tone{300, 0.9}).NextFrame(pcm)
	var peak int16
	for _, s := range pcm {
		peak = max(peak, s)
	}
	if peak != math.MaxInt16 {
		t.Errorf("peak %d: an overdriven sum should clip at full scale", peak)
	}
}
