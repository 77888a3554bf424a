// Package recorder writes a call's audio to a stereo WAV file (8 kHz,
// 16-bit): the left channel is one side of a bridge (our agent), the
// right channel the other (the far end).
//
// The file is written while the call runs, interleaved, to "<path>.part":
// frames are placed by arrival time into a two-second stereo ring, and
// every half second the part of the ring that real time has passed (less a
// little jitter) is appended to the file. When a channel has been silent
// (hold, an unlinked transfer, a muted phone) for longer than the jitter
// slack, its next frame lands at its arrival slot and the gap stays
// silence, so one side's silence never shifts the other side's speech.
// Close writes the rest and the header's sizes, and renames the file into
// place: it costs no more than the last half second of audio, however
// long the call. A process killed mid-call leaves a ".part" file that is
// valid audio up to about a second before the crash; Recover turns it
// into a WAV.
//
// # Concurrency
//
// TapFrame is called from the two legs' read loops, Pause and Resume from
// whoever controls the call; one mutex per recorder serialises them.
// TapFrame allocates nothing.
package recorder

import (
	"encoding/binary"
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
	// settle is how far behind real time frames are final: no frame that
	// arrives later can land before it.
	settle = jitterSlack + 160
	// ringFrames is the stereo ring's length: room for maxAhead, the
	// settle time and one flush interval.
	ringFrames = 2 * Rate
	// flushEvery is how many settled frames are appended at once (half a
	// second: what a crash may lose on top of the settle time).
	flushEvery = Rate / 2
	// frameBytes is one stereo frame: two 16-bit samples.
	frameBytes = 4
)

// PartSuffix ends the name of a recording still being written.
const PartSuffix = ".part"

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
	f       *os.File
	base    int64    // frames appended to the file
	written [2]int64 // per channel: the next frame position
	err     error
	closed  bool
	// paused drops what the channels hear, so the time stays silence
	// (a card number read out); waiting is set while a recording started
	// paused has heard nothing yet, and its first Resume starts the clock.
	paused  bool
	waiting bool
	ring    [ringFrames * frameBytes]byte // frames [base, base+ringFrames), at position % ringFrames
	scratch [rtpio.MTU]int16              // decoded samples of one frame
}

// New starts a recording that Close completes at path (a .wav file; its
// directory must exist). now is the clock (nil: time.Now); the recording's
// time starts at New.
func New(path string, now func() time.Time) (*Recorder, error) {
	if now == nil {
		now = time.Now
	}
	f, err := os.OpenFile(path+PartSuffix, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	// The sizes are written at Close (or by Recover after a crash).
	if err := wav.WriteHeader(f, 2, Rate, 0); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("recorder: %w", err)
	}
	return &Recorder{path: path, now: now, f: f, start: now()}, nil
}

// NewPaused is New for a recording that starts only when asked (on-demand
// recording): it hears nothing until Resume, and the recording's time
// starts at that first Resume, so the file does not open with the
// silence of the time before.
func NewPaused(path string, now func() time.Time) (*Recorder, error) {
	r, err := New(path, now)
	if err != nil {
		return nil, err
	}
	r.paused, r.waiting = true, true
	return r, nil
}

// Pause makes the recording silent from now until Resume and returns
// the position in the recording where the silence starts (to within the
// frame in flight: a frame fills the 20 ms before it arrives). Audio that
// jitter placement had put past that point is taken back, so the silence
// starts exactly there. Pausing a paused recording changes nothing.
func (r *Recorder) Pause() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	at := max(r.samplesAt(r.now()), r.base)
	if r.paused || r.closed {
		return frameTime(at)
	}
	for side := range r.written {
		for i := at; i < r.written[side]; i++ {
			o := (i%ringFrames)*frameBytes + int64(side)*2
			r.ring[o], r.ring[o+1] = 0, 0
		}
		r.written[side] = min(r.written[side], at)
	}
	r.paused = true
	return frameTime(at)
}

// Resume takes audio again and returns the position in the recording
// where it resumes. The first Resume of a recording made by NewPaused
// starts its time (position 0).
func (r *Recorder) Resume() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting && !r.closed {
		r.start, r.waiting = r.now(), false
	}
	r.paused = false
	return frameTime(r.samplesAt(r.now()))
}

// Started reports whether the recording has taken audio at any time
// (false only for a NewPaused recording never resumed).
func (r *Recorder) Started() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.waiting
}

// frameTime converts a sample position into time.
func frameTime(frames int64) time.Duration { return time.Duration(frames) * time.Second / Rate }

// TapFrame records one relayed frame heard from side (Left or Right). It
// is called before the sink's writer converts the payload in place.
// Telephone-event frames are not audio and are ignored.
func (r *Recorder) TapFrame(side int, f *rtpio.Frame) {
	if side != Left && side != Right {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.err != nil || r.paused {
		return
	}
	n := min(len(f.Payload), len(r.scratch))
	switch f.Codec {
	case rtpio.CodecPCMU:
		for i, b := range f.Payload[:n] {
			r.scratch[i] = g711.DecodeUlaw(b)
		}
	case rtpio.CodecPCMA:
		for i, b := range f.Payload[:n] {
			r.scratch[i] = g711.DecodeAlaw(b)
		}
	default:
		return
	}
	pos := r.samplesAt(r.now())
	r.place(side, int64(n), pos)
	if settled := pos - settle; settled-r.base >= flushEvery {
		r.flushTo(settled)
	}
}

// samplesAt converts a time into a sample position of the recording.
func (r *Recorder) samplesAt(t time.Time) int64 {
	d := t.Sub(r.start)
	if d < 0 {
		return 0
	}
	return int64(d) * Rate / int64(time.Second)
}

// place puts n decoded samples (in r.scratch) that arrived when the
// recording was at frame pos into the slot [pos-n, pos) of one channel,
// or right after the channel's previous frame when that is within the
// jitter slack.
func (r *Recorder) place(side int, n, pos int64) {
	at := r.written[side]
	switch slot := pos - n; {
	case slot-at > jitterSlack:
		at = slot // the gap stays silence
	case at-pos > maxAhead:
		return // running ahead of real time: drop rather than drift
	}
	skip := int64(0)
	if at < r.base {
		skip = r.base - at // already in the file: only the rest fits
	}
	if skip >= n {
		r.written[side] = max(r.written[side], r.base)
		return
	}
	end := at + n
	if end > r.base+ringFrames {
		r.flushTo(end - ringFrames)
		if r.err != nil {
			return
		}
	}
	for i := skip; i < n; i++ {
		o := ((at+i)%ringFrames)*frameBytes + int64(side)*2
		binary.LittleEndian.PutUint16(r.ring[o:], uint16(r.scratch[i]))
	}
	r.written[side] = end
}

// flushTo appends frames [base, to) to the file and clears their ring
// slots; to is clamped to what the ring holds.
func (r *Recorder) flushTo(to int64) {
	to = min(to, r.base+ringFrames)
	for r.base < to && r.err == nil {
		i := r.base % ringFrames
		k := min(to-r.base, ringFrames-i)
		b := r.ring[i*frameBytes : (i+k)*frameBytes]
		if _, err := r.f.Write(b); err != nil {
			r.err = err
			return
		}
		clear(b)
		r.base += k
	}
}

// Close stops recording and completes the WAV: both channels as long as
// the longer of them and of the time recorded, the shorter padded with
// silence. Calling it again returns an error.
func (r *Recorder) Close() (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return Result{}, errors.New("recorder: already closed")
	}
	r.closed = true
	frames := min(max(r.samplesAt(r.now()), r.written[Left], r.written[Right]), wav.MaxFrames)
	if r.waiting {
		frames = 0 // never started: an empty recording
	}
	for r.base < frames && r.err == nil {
		r.flushTo(frames)
	}
	err := r.err
	if err == nil {
		err = finish(r.f, frames)
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(r.f.Name(), r.path)
	}
	if err != nil {
		os.Remove(r.f.Name())
		return Result{}, fmt.Errorf("recorder: %w", err)
	}
	return Result{Path: r.path, Duration: time.Duration(frames) * time.Second / Rate, Size: wav.HeaderSize + frames*frameBytes}, nil
}

// finish writes the header for frames stereo frames at the start of f.
func finish(f *os.File, frames int64) error {
	var h headerBuf
	if err := wav.WriteHeader(&h, 2, Rate, frames); err != nil {
		return err
	}
	_, err := f.WriteAt(h.b[:], 0)
	return err
}

// headerBuf collects one WAV header.
type headerBuf struct {
	b [wav.HeaderSize]byte
	n int
}

func (h *headerBuf) Write(p []byte) (int, error) {
	n := copy(h.b[h.n:], p)
	h.n += n
	if n < len(p) {
		return n, io.ErrShortWrite
	}
	return n, nil
}

// Recover completes the recording that a process killed mid-call left at
// path+PartSuffix: the audio written up to the crash (whole frames) with a
// correct header, renamed to path. A recording already completed at path
// is returned as it is.
func Recover(path string) (Result, error) {
	part := path + PartSuffix
	st, err := os.Stat(part)
	if errors.Is(err, os.ErrNotExist) {
		if st, err = os.Stat(path); err != nil {
			return Result{}, fmt.Errorf("recorder: recover: %w", err)
		}
		frames := max(st.Size()-wav.HeaderSize, 0) / frameBytes
		return Result{Path: path, Duration: time.Duration(frames) * time.Second / Rate, Size: st.Size()}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("recorder: recover: %w", err)
	}
	frames := min(max(st.Size()-wav.HeaderSize, 0)/frameBytes, wav.MaxFrames)
	f, err := os.OpenFile(part, os.O_WRONLY, 0)
	if err != nil {
		return Result{}, fmt.Errorf("recorder: recover: %w", err)
	}
	err = f.Truncate(wav.HeaderSize + frames*frameBytes)
	if err == nil {
		err = finish(f, frames)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(part, path)
	}
	if err != nil {
		return Result{}, fmt.Errorf("recorder: recover %s: %w", filepath.Base(part), err)
	}
	return Result{Path: path, Duration: time.Duration(frames) * time.Second / Rate, Size: wav.HeaderSize + frames*frameBytes}, nil
}

// String names the recorder in printed media chains.
func (r *Recorder) String() string { return "recorder(" + filepath.Base(r.path) + ")" }
