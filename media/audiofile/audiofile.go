// Package audiofile turns an uploaded audio file into telephone audio:
// 16-bit mono PCM at 8 kHz. It reads WAV files (integer PCM of 8, 16, 24
// or 32 bits, 32- or 64-bit float, plain or WAVE_FORMAT_EXTENSIBLE, 1 to
// 8 channels, 8 to 192 kHz) and MP3 (MPEG-1/2/2.5 layer III, decoded by
// github.com/hajimehoshi/go-mp3). Channels are mixed down by averaging,
// and the rate is converted with a band-limiting filter (resample.go).
//
// It is pure computation on the caller's goroutine: no state is shared,
// so concurrent Decode calls are safe.
package audiofile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/hajimehoshi/go-mp3"
)

// Rate is the sample rate of what Decode returns.
const Rate = 8000

// Input limits.
const (
	MinRate     = 8000
	MaxRate     = 192000
	MaxChannels = 8
)

// Info describes the file that was decoded.
type Info struct {
	Format   string `json:"format"` // "wav" or "mp3"
	Rate     int    `json:"rate"`
	Channels int    `json:"channels"`
	// Encoding is the WAV sample layout ("pcm16", "float32", …) or "mp3".
	Encoding string `json:"encoding"`
}

// Error is a problem with the file itself, worded for the person who
// uploaded it.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func bad(format string, a ...any) error { return &Error{Msg: fmt.Sprintf(format, a...)} }

// Decode reads a WAV or MP3 file and returns its audio as 8 kHz mono
// 16-bit samples. Audio longer than maxSeconds is refused (an *Error)
// as soon as that much has been decoded, so a small, highly compressed
// file cannot make it allocate without bound.
func Decode(r io.Reader, maxSeconds int) (pcm []int16, info Info, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(12)
	out := &collector{max: int64(maxSeconds) * Rate}
	defer func() {
		// A decoder bug on a hostile file must not take the process down.
		if v := recover(); v != nil {
			pcm, err = nil, bad("the file could not be decoded (%v)", v)
		}
	}()
	switch {
	case len(head) >= 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WAVE":
		info, err = decodeWAV(br, out)
	case len(head) >= 3 && (string(head[0:3]) == "ID3" || head[0] == 0xFF && head[1]&0xE0 == 0xE0):
		info, err = decodeMP3(br, out)
	case len(head) == 0:
		return nil, Info{}, bad("the file is empty")
	default:
		return nil, Info{}, bad("the file is neither WAV nor MP3")
	}
	if err != nil {
		return nil, info, err
	}
	if len(out.pcm) == 0 {
		return nil, info, bad("the file holds no audio")
	}
	return out.pcm, info, nil
}

// collector gathers output samples up to a limit.
type collector struct {
	pcm  []int16
	max  int64
	over bool
}

func (c *collector) emit(v float64) {
	if int64(len(c.pcm)) >= c.max {
		c.over = true
		return
	}
	v = math.Round(v * 32768)
	c.pcm = append(c.pcm, int16(max(-32768, min(32767, v))))
}

func (c *collector) tooLong() error {
	return bad("the audio is longer than %d seconds", c.max/Rate)
}

// feed pushes mono input through a resampler into the collector.
type feed struct {
	rs  *resampler // nil: the input is 8 kHz already
	out *collector
}

func newFeed(rate int, out *collector) *feed {
	f := &feed{out: out}
	if rate != Rate {
		f.rs = newResampler(rate, Rate)
	}
	return f
}

func (f *feed) push(mono []float64) error {
	if f.rs == nil {
		for _, v := range mono {
			f.out.emit(v)
		}
	} else {
		f.rs.push(mono, f.out.emit)
	}
	if f.out.over {
		return f.out.tooLong()
	}
	return nil
}

func (f *feed) close() error {
	if f.rs != nil {
		f.rs.flush(f.out.emit)
	}
	if f.out.over {
		return f.out.tooLong()
	}
	return nil
}

// WAV format tags.
const (
	wavPCM        = 1
	wavFloat      = 3
	wavExtensible = 0xFFFE
)

type wavFormat struct {
	tag, channels, bits, align int
	rate                       int
}

func decodeWAV(r io.Reader, out *collector) (Info, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Info{}, bad("the WAV header is cut short")
	}
	var f *wavFormat
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return Info{}, bad("the WAV file has no data chunk")
		}
		size := int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch string(ch[0:4]) {
		case "fmt ":
			if size < 16 || size > 1024 {
				return Info{}, bad("the WAV fmt chunk is malformed")
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return Info{}, bad("the WAV fmt chunk is cut short")
			}
			var err error
			if f, err = parseFmt(b); err != nil {
				return Info{}, err
			}
		case "data":
			if f == nil {
				return Info{}, bad("the WAV data chunk comes before its fmt chunk")
			}
			info := Info{Format: "wav", Rate: f.rate, Channels: f.channels, Encoding: encodingName(f)}
			// A size of 0 or 0xFFFFFFFF is written by streaming encoders
			// that never went back to fill it in: read to the end.
			if size == 0 || size == 0xFFFFFFFF {
				size = math.MaxInt64
			}
			if secs := size / int64(f.align) / int64(f.rate); size != math.MaxInt64 && secs > out.max/Rate {
				return info, out.tooLong()
			}
			return info, readWAVData(io.LimitReader(r, size), f, out)
		default:
			if _, err := io.CopyN(io.Discard, r, size+size%2); err != nil {
				return Info{}, bad("the WAV file has no data chunk")
			}
		}
	}
}

func parseFmt(b []byte) (*wavFormat, error) {
	f := &wavFormat{
		tag:      int(binary.LittleEndian.Uint16(b[0:2])),
		channels: int(binary.LittleEndian.Uint16(b[2:4])),
		rate:     int(binary.LittleEndian.Uint32(b[4:8])),
		align:    int(binary.LittleEndian.Uint16(b[12:14])),
		bits:     int(binary.LittleEndian.Uint16(b[14:16])),
	}
	if f.tag == wavExtensible {
		if len(b) < 40 {
			return nil, bad("the WAV extensible format chunk is cut short")
		}
		// The sub-format GUID starts with the plain format tag.
		f.tag = int(binary.LittleEndian.Uint16(b[24:26]))
	}
	switch {
	case f.tag != wavPCM && f.tag != wavFloat:
		return nil, bad("WAV format %d is not supported: use PCM or float samples", f.tag)
	case f.channels < 1 || f.channels > MaxChannels:
		return nil, bad("the WAV file has %d channels; 1 to %d are supported", f.channels, MaxChannels)
	case f.rate < MinRate || f.rate > MaxRate:
		return nil, bad("the sample rate %d Hz is not supported: %d to %d Hz", f.rate, MinRate, MaxRate)
	case f.tag == wavPCM && f.bits != 8 && f.bits != 16 && f.bits != 24 && f.bits != 32:
		return nil, bad("%d-bit PCM is not supported: 8, 16, 24 or 32 bits", f.bits)
	case f.tag == wavFloat && f.bits != 32 && f.bits != 64:
		return nil, bad("%d-bit float is not supported: 32 or 64 bits", f.bits)
	case f.align != f.channels*f.bits/8:
		return nil, bad("the WAV block alignment %d does not match %d channels of %d bits", f.align, f.channels, f.bits)
	}
	return f, nil
}

func encodingName(f *wavFormat) string {
	if f.tag == wavFloat {
		return fmt.Sprintf("float%d", f.bits)
	}
	return fmt.Sprintf("pcm%d", f.bits)
}

// sample decodes one sample to [-1, 1).
func (f *wavFormat) sample(b []byte) float64 {
	switch {
	case f.tag == wavFloat && f.bits == 32:
		return finite(float64(math.Float32frombits(binary.LittleEndian.Uint32(b))))
	case f.tag == wavFloat:
		return finite(math.Float64frombits(binary.LittleEndian.Uint64(b)))
	case f.bits == 8: // unsigned, centred on 128
		return (float64(b[0]) - 128) / 128
	case f.bits == 16:
		return float64(int16(binary.LittleEndian.Uint16(b))) / 32768
	case f.bits == 24:
		v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
		return float64(v) / (1 << 23)
	default:
		return float64(int32(binary.LittleEndian.Uint32(b))) / (1 << 31)
	}
}

// finite clamps float samples: NaN and infinities become silence or full
// scale rather than poisoning the filter.
func finite(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return max(-1, min(1, v))
}

func readWAVData(r io.Reader, f *wavFormat, out *collector) error {
	fd := newFeed(f.rate, out)
	const framesPerRead = 4096
	raw := make([]byte, framesPerRead*f.align)
	mono := make([]float64, 0, framesPerRead)
	width := f.bits / 8
	for {
		n, err := io.ReadFull(r, raw)
		n -= n % f.align // a cut-off last frame is dropped
		mono = mono[:0]
		for i := 0; i < n; i += f.align {
			var sum float64
			for c := range f.channels {
				sum += f.sample(raw[i+c*width:])
			}
			mono = append(mono, sum/float64(f.channels))
		}
		if perr := fd.push(mono); perr != nil {
			return perr
		}
		if err != nil { // io.EOF, or a file shorter than its header says
			return fd.close()
		}
	}
}

// noSeek hides a reader's Seek so go-mp3 decodes as it reads instead of
// scanning the whole file first.
type noSeek struct{ io.Reader }

func decodeMP3(r io.Reader, out *collector) (Info, error) {
	d, err := mp3.NewDecoder(noSeek{r})
	if err != nil {
		return Info{}, bad("the MP3 file could not be decoded: %v", err)
	}
	rate := d.SampleRate()
	info := Info{Format: "mp3", Rate: rate, Channels: 2, Encoding: "mp3"}
	if rate < MinRate || rate > MaxRate {
		return info, bad("the sample rate %d Hz is not supported", rate)
	}
	fd := newFeed(rate, out)
	// go-mp3 always gives 16-bit little-endian stereo.
	raw := make([]byte, 4*4096)
	mono := make([]float64, 0, 4096)
	for {
		n, err := io.ReadFull(d, raw)
		n -= n % 4
		mono = mono[:0]
		for i := 0; i < n; i += 4 {
			l := int16(binary.LittleEndian.Uint16(raw[i:]))
			rr := int16(binary.LittleEndian.Uint16(raw[i+2:]))
			mono = append(mono, (float64(l)+float64(rr))/65536)
		}
		if perr := fd.push(mono); perr != nil {
			return info, perr
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return info, fd.close()
		default:
			if len(out.pcm) > 0 { // trailing garbage after good frames
				return info, fd.close()
			}
			return info, bad("the MP3 file could not be decoded: %v", err)
		}
	}
}
