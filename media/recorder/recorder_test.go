package recorder

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/media/g711"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/wav"
)

// clock is a hand-driven time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// frame is 20 ms of one constant level in codec.
func frame(codec rtpio.Codec, level int16) *rtpio.Frame {
	p := make([]byte, 160)
	for i := range p {
		if codec == rtpio.CodecPCMA {
			p[i] = g711.EncodeAlaw(level)
		} else {
			p[i] = g711.EncodeUlaw(level)
		}
	}
	return &rtpio.Frame{Payload: p, Codec: codec}
}

func readStereo(t *testing.T, path string) (left, right []int16) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, ch, rate, err := wav.ReadInterleaved(f)
	if err != nil || ch != 2 || rate != Rate {
		t.Fatalf("wav: %d channels at %d Hz, %v", ch, rate, err)
	}
	for i := 0; i+1 < len(pcm); i += 2 {
		left = append(left, pcm[i])
		right = append(right, pcm[i+1])
	}
	return left, right
}

// near reports whether a decoded G.711 sample is close to level.
func near(s, level int16) bool { d := int(s) - int(level); return d > -300 && d < 300 }

// The left side talks for the first second, then goes quiet (hold); the
// right side is silent for the first second and talks in the second. The
// right side's speech must land in the second second, not at the start
// of its channel, and both channels last the whole two seconds.
func TestAlignsChannelsByArrivalTime(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1000, 0)}
	path := filepath.Join(dir, "rec.wav")
	r, err := New(path, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 { // 1 s of the left side, PCMU
		clk.advance(20 * time.Millisecond)
		r.TapFrame(Left, frame(rtpio.CodecPCMU, 8000))
		r.TapFrame(Left, &rtpio.Frame{Payload: []byte{1, 0, 0, 160}, Codec: rtpio.CodecEvent}) // ignored
	}
	for range 50 { // 1 s of the right side, PCMA
		clk.advance(20 * time.Millisecond)
		r.TapFrame(Right, frame(rtpio.CodecPCMA, -4000))
	}
	res, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.Duration != 2*time.Second || res.Path != path || res.Size != wav.HeaderSize+2*Rate*4 {
		t.Fatalf("result %+v", res)
	}
	left, right := readStereo(t, path)
	if len(left) != 2*Rate {
		t.Fatalf("%d frames, want %d", len(left), 2*Rate)
	}
	for _, c := range []struct {
		name  string
		pcm   []int16
		from  int
		to    int
		level int16
	}{
		{"left talking", left, 0, Rate, 8000},
		{"left on hold", left, Rate, 2 * Rate, 0},
		{"right silent", right, 0, Rate, 0},
		{"right talking", right, Rate, 2 * Rate, -4000},
	} {
		for i := c.from; i < c.to; i++ {
			if !near(c.pcm[i], c.level) {
				t.Fatalf("%s: sample %d is %d, want about %d", c.name, i, c.pcm[i], c.level)
			}
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*"+PartSuffix)); len(m) != 0 {
		t.Fatalf("temporary files left behind: %v", m)
	}
}

// Jitter within the slack does not insert silence, and a burst far ahead
// of real time is dropped rather than stretching the channel.
func TestJitterAndBursts(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	r, err := New(filepath.Join(t.TempDir(), "j.wav"), clk.now)
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(20 * time.Millisecond)
	r.TapFrame(Left, frame(rtpio.CodecPCMU, 1000))
	clk.advance(60 * time.Millisecond) // late, within the slack
	r.TapFrame(Left, frame(rtpio.CodecPCMU, 1000))
	r.TapFrame(Left, frame(rtpio.CodecPCMU, 1000))
	for range 100 { // 2 s arriving at once
		r.TapFrame(Right, frame(rtpio.CodecPCMU, 2000))
	}
	if got := r.written[Left]; got != 480 {
		t.Fatalf("left wrote %d samples, want 480 (no padding inside the jitter slack)", got)
	}
	if got := r.written[Right]; got > maxAhead+int64(r.samplesAt(clk.now()))+160 {
		t.Fatalf("right ran %d samples ahead", got)
	}
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Close(); err == nil {
		t.Fatal("second Close succeeded")
	}
}

func TestTapFrameAllocatesNothing(t *testing.T) {
	r, err := New(filepath.Join(t.TempDir(), "a.wav"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f := frame(rtpio.CodecPCMU, 100)
	if n := testing.AllocsPerRun(200, func() { r.TapFrame(Left, f) }); n != 0 {
		t.Fatalf("TapFrame allocates %.1f times per frame", n)
	}
}

// A recorder that is never closed (the process was killed) leaves a part
// file that Recover turns into a valid WAV holding both channels up to
// within a second of the crash; nothing else is left behind.
func TestRecoverAfterCrash(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1000, 0)}
	path := filepath.Join(dir, "crash.wav")
	r, err := New(path, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	for range 250 { // 5 s, both sides talking
		clk.advance(20 * time.Millisecond)
		r.TapFrame(Left, frame(rtpio.CodecPCMU, 8000))
		r.TapFrame(Right, frame(rtpio.CodecPCMA, -4000))
	}
	// No Close: the file descriptor is simply abandoned, as by kill -9.
	res, err := Recover(path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Duration < 4*time.Second || res.Duration > 5*time.Second {
		t.Fatalf("recovered %v of 5 s", res.Duration)
	}
	left, right := readStereo(t, path)
	if int64(len(left)) != int64(res.Duration)*Rate/int64(time.Second) {
		t.Fatalf("%d frames for %v", len(left), res.Duration)
	}
	for i := range left {
		if !near(left[i], 8000) || !near(right[i], -4000) {
			t.Fatalf("frame %d: %d/%d", i, left[i], right[i])
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*"+PartSuffix)); len(m) != 0 {
		t.Fatalf("part files left behind: %v", m)
	}
	again, err := Recover(path)
	if err != nil || again.Duration != res.Duration {
		t.Fatalf("second recovery: %+v, %v", again, err)
	}
	r.f.Close()
}

// A long silence (both sides on hold) costs no memory and lands in the
// file as silence once audio comes back, so a crash after it keeps it.
func TestLongSilenceIsWrittenWhenAudioResumes(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	path := filepath.Join(t.TempDir(), "hold.wav")
	r, err := New(path, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(20 * time.Millisecond)
	r.TapFrame(Left, frame(rtpio.CodecPCMU, 8000))
	clk.advance(60 * time.Second)
	for range 50 {
		clk.advance(20 * time.Millisecond)
		r.TapFrame(Left, frame(rtpio.CodecPCMU, 8000))
	}
	if r.base < 60*Rate {
		t.Fatalf("only %d frames in the file after a minute of silence", r.base)
	}
	res, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	left, _ := readStereo(t, res.Path)
	if !near(left[100], 8000) || left[30*Rate] != 0 || !near(left[len(left)-200], 8000) {
		t.Fatalf("hold not placed: %d %d %d", left[100], left[30*Rate], left[len(left)-200])
	}
}

// Both sides talk for 3 s; the recording is paused from 1 s to 2 s.
// Exactly that second is silence on both channels, and the positions
// Pause and Resume return name it.
func TestPauseLeavesSilenceExactlyThere(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	path := filepath.Join(t.TempDir(), "rec.wav")
	r, err := New(path, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	var from, to time.Duration
	for i := range 150 {
		clk.advance(20 * time.Millisecond)
		switch i {
		case 50:
			from = r.Pause()
		case 100:
			to = r.Resume()
		}
		r.TapFrame(Left, frame(rtpio.CodecPCMU, 8000))
		r.TapFrame(Right, frame(rtpio.CodecPCMU, -8000))
	}
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if from != 1020*time.Millisecond || to != 2020*time.Millisecond {
		t.Fatalf("paused at %v, resumed at %v", from, to)
	}
	left, right := readStereo(t, path)
	// A frame covers the 20 ms before its arrival: the one dropped at
	// pause (arriving at 1.02 s) would have covered 1.00–1.02 s, the one
	// heard at resume covers 2.00–2.02 s.
	silentFrom, silentTo := int(from-20*time.Millisecond)*Rate/int(time.Second), int(to-20*time.Millisecond)*Rate/int(time.Second)
	for i := range left {
		quiet := i >= silentFrom && i < silentTo
		if quiet != (left[i] == 0) || quiet != (right[i] == 0) {
			t.Fatalf("sample %d (%v): left %d right %d, want silence only in [%d, %d)", i,
				time.Duration(i)*time.Second/Rate, left[i], right[i], silentFrom, silentTo)
		}
	}
}

// A recording started paused (on demand) starts its time at the first
// Resume; one never resumed is empty.
func TestPausedRecordingStartsAtResume(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	dir := t.TempDir()
	r, err := NewPaused(filepath.Join(dir, "a.wav"), clk.now)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 { // a second before anyone asked for the recording
		clk.advance(20 * time.Millisecond)
		r.TapFrame(Left, frame(rtpio.CodecPCMU, 8000))
	}
	if r.Started() {
		t.Fatal("started before Resume")
	}
	if at := r.Resume(); at != 0 {
		t.Fatalf("first Resume at %v, want 0", at)
	}
	for range 25 {
		clk.advance(20 * time.Millisecond)
		r.TapFrame(Left, frame(rtpio.CodecPCMU, 8000))
	}
	res, err := r.Close()
	if err != nil || res.Duration != 500*time.Millisecond {
		t.Fatalf("result %+v, %v", res, err)
	}
	left, _ := readStereo(t, res.Path)
	for i, s := range left {
		if !near(s, 8000) {
			t.Fatalf("sample %d is %d: the recording does not start at Resume", i, s)
		}
	}

	never, err := NewPaused(filepath.Join(dir, "b.wav"), clk.now)
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Second)
	never.TapFrame(Left, frame(rtpio.CodecPCMU, 8000))
	if res, err := never.Close(); err != nil || res.Duration != 0 {
		t.Fatalf("never resumed: %+v, %v", res, err)
	}
}
