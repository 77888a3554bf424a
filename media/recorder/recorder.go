// Package recorder writes a call's audio to a stereo WAV file (8 kHz,
// 16-bit): the left channel is one side of a bridge (our agent), the
// right channel the other (the far end).
//
// While the call runs each channel is appended to a raw temporary file
// next to the final one, so a long call never sits in memory. Frames are
// placed by arrival time: when a channel has been silent (hold, an
// unlinked transfer, a muted phone) for longer than a little jitter, it is
// padded with silence up to the frame's slot, so one side's silence never
// shifts the other side's speech. Close aligns the two channels, writes
// the WAV and removes the temporary files.
//
// # Concurrency
//
// TapFrame is called from the two legs' read loops; one mutex per
// recorder serialises them. TapFrame allocates nothing.
package recorder

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ringbridge/ringbridge/media/g711"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/wav"
)

// Rate is the recording's sample rate (G.711's).
const Rate = 8000

// Channels of the recording.
const (
	Left  = 0 // the first endpoint of a bridge: our agent
	Right = 1 // the second: the far end
)

const (
	// jitterSlack is how far behind its arrival time a channel may fall
	// before the gap is filled with silence (60 ms: three frames).
	jitterSlack = 3 * 160
	// maxAhead is how far ahead of real time a channel may run (a burst
	// after a stall, a clock running fast) before frames are dropped.
	maxAhead = Rate
)

// Result describes a finished recording.
type Result struct {
	Path     string
	Duration time.Duration
	Size     int64
}

// Recorder records two channels of one call. Make it with New.
type Recorder struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	start   time.Time
	ch      [2]channel
	closed  bool
	scratch [2 * rtpio.MTU]byte // decoded samples of one frame
}

type channel struct {
	f       *os.File
	w       *bufio.Writer
	written int64 // samples written
	err     error
}

// New starts a recording that Close writes to path (a .wav file; its
// directory must exist). now is the clock (nil: time.Now); the recording's
// time starts at New.
func New(path string, now func() time.Time) (*Recorder, error) {
	if now == nil {
		now = time.Now
	}
	r := &Recorder{path: path, now: now}
	for i := range r.ch {
		f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".ch*.raw")
		if err != nil {
			r.removeTemp()
			return nil, fmt.Errorf("recorder: %w", err)
		}
		r.ch[i] = channel{f: f, w: bufio.NewWriterSize(f, 32<<10)}
	}
	r.start = now()
	return r, nil
}

// TapFrame records one relayed frame heard from side (Left or Right). It
// is called before the sink's writer converts the payload in place.
// Telephone-event frames are not audio and are ignored.
func (r *Recorder) TapFrame(side int, f *rtpio.Frame) {
	if side != Left && side != Right {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	n := len(f.Payload)
	switch f.Codec {
	case rtpio.CodecPCMU:
		for i, b := range f.Payload {
			s := uint16(g711.DecodeUlaw(b))
			r.scratch[2*i], r.scratch[2*i+1] = byte(s), byte(s>>8)
		}
	case rtpio.CodecPCMA:
		for i, b := range f.Payload {
			s := uint16(g711.DecodeAlaw(b))
			r.scratch[2*i], r.scratch[2*i+1] = byte(s), byte(s>>8)
		}
	default:
		return
	}
	r.place(&r.ch[side], int64(n), r.samplesAt(r.now()))
}

// samplesAt converts a time into a sample position of the recording.
func (r *Recorder) samplesAt(t time.Time) int64 {
	d := t.Sub(r.start)
	if d < 0 {
		return 0
	}
	return int64(d) * Rate / int64(time.Second)
}

// place writes n decoded samples (in r.scratch) that arrived when the
// recording was at sample pos: they belong to the slot [pos-n, pos).
func (r *Recorder) place(c *channel, n, pos int64) {
	if c.err != nil {
		return
	}
	slot := pos - n
	switch {
	case slot-c.written > jitterSlack:
		c.err = writeSilence(c.w, slot-c.written)
		c.written = slot
	case c.written-pos > maxAhead:
		return // running ahead of real time: drop rather than drift
	}
	if c.err != nil {
		return
	}
	if _, err := c.w.Write(r.scratch[:2*n]); err != nil {
		c.err = err
		return
	}
	c.written += n
}

var zeros [4096]byte

func writeSilence(w io.Writer, samples int64) error {
	for b := samples * 2; b > 0; {
		k := min(b, int64(len(zeros)))
		if _, err := w.Write(zeros[:k]); err != nil {
			return err
		}
		b -= k
	}
	return nil
}

// Close stops recording and writes the WAV: both channels as long as the
// longer of them and of the time recorded, the shorter padded with
// silence. The temporary files are removed whatever happens. Calling it
// again returns an error.
func (r *Recorder) Close() (Result, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return Result{}, errors.New("recorder: already closed")
	}
	r.closed = true
	frames := r.samplesAt(r.now())
	r.mu.Unlock()
	defer r.removeTemp()

	for i := range r.ch {
		c := &r.ch[i]
		if c.err == nil {
			c.err = c.w.Flush()
		}
		if c.err == nil {
			_, c.err = c.f.Seek(0, io.SeekStart)
		}
		if c.err != nil {
			return Result{}, fmt.Errorf("recorder: channel %d: %w", i, c.err)
		}
		frames = max(frames, c.written)
	}
	frames = min(frames, wav.MaxFrames)
	if err := r.writeWAV(frames); err != nil {
		return Result{}, err
	}
	st, err := os.Stat(r.path)
	if err != nil {
		return Result{}, fmt.Errorf("recorder: %w", err)
	}
	return Result{Path: r.path, Duration: time.Duration(frames) * time.Second / Rate, Size: st.Size()}, nil
}

// writeWAV interleaves the two raw channels into a temporary file and
// renames it into place, so the path only ever holds a complete file.
func (r *Recorder) writeWAV(frames int64) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(r.path), "."+filepath.Base(r.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 64<<10)
	if err = wav.WriteHeader(w, 2, Rate, frames); err != nil {
		return err
	}
	const chunk = 4096 // samples per channel per round
	var in [2][chunk * 2]byte
	var out [chunk * 4]byte
	left := [2]io.Reader{bufio.NewReader(r.ch[0].f), bufio.NewReader(r.ch[1].f)}
	for done := int64(0); done < frames; {
		k := int(min(frames-done, chunk))
		for i := range in {
			n, rerr := io.ReadFull(left[i], in[i][:2*k])
			if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
				return fmt.Errorf("recorder: channel %d: %w", i, rerr)
			}
			clear(in[i][n : 2*k]) // a channel shorter than the file ends in silence
		}
		for j := range k {
			copy(out[4*j:4*j+2], in[0][2*j:2*j+2])
			copy(out[4*j+2:4*j+4], in[1][2*j:2*j+2])
		}
		if _, err = w.Write(out[:4*k]); err != nil {
			return fmt.Errorf("recorder: %w", err)
		}
		done += int64(k)
	}
	if err = w.Flush(); err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	if err = os.Rename(tmp.Name(), r.path); err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	return nil
}

func (r *Recorder) removeTemp() {
	for _, c := range r.ch {
		if c.f != nil {
			c.f.Close()
			os.Remove(c.f.Name())
		}
	}
}

// String names the recorder in printed media chains.
func (r *Recorder) String() string { return "recorder(" + filepath.Base(r.path) + ")" }
