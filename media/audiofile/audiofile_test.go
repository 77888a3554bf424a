package audiofile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/ringbridge/ringbridge/media/tone"
)

// wavFile builds a WAV file of a sine (per channel freqs[c]) in the given
// layout.
func wavFile(t testing.TB, tag, bits, rate, channels int, seconds float64, freqs ...float64) []byte {
	t.Helper()
	n := int(seconds * float64(rate))
	align := channels * bits / 8
	var b bytes.Buffer
	fmtSize := 16
	if tag == wavExtensible {
		fmtSize = 40
	}
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(4 + 8 + fmtSize + 8 + 8 + n*align))
	b.WriteString("WAVE")
	b.WriteString("LIST") // a chunk to skip
	le(uint32(0))
	b.WriteString("fmt ")
	le(uint32(fmtSize))
	le(uint16(tag))
	le(uint16(channels))
	le(uint32(rate))
	le(uint32(rate * align))
	le(uint16(align))
	le(uint16(bits))
	sub := wavPCM
	if tag == wavExtensible {
		if bits == 32 || bits == 64 {
			sub = wavFloat
		}
		le(uint16(22))
		le(uint16(bits))
		le(uint32(3))
		le(uint16(sub))
		b.Write([]byte{0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71})
	}
	b.WriteString("data")
	le(uint32(n * align))
	float := tag == wavFloat || sub == wavFloat
	for i := range n {
		for c := range channels {
			v := 0.5 * math.Sin(2*math.Pi*freqs[c%len(freqs)]*float64(i)/float64(rate))
			switch {
			case float && bits == 32:
				le(float32(v))
			case float:
				le(v)
			case bits == 8:
				b.WriteByte(byte(128 + int(v*127)))
			case bits == 16:
				le(int16(v * 32767))
			case bits == 24:
				x := int32(v * 8388607)
				b.Write([]byte{byte(x), byte(x >> 8), byte(x >> 16)})
			default:
				le(int32(v * 2147483647))
			}
		}
	}
	return b.Bytes()
}

// power is the strength of freq in pcm relative to a full-scale sine
// (tone.Power gives such a sine 0.5).
func power(pcm []int16, freq float64) float64 { return 2 * tone.Power(pcm, freq, Rate) }

func db(x float64) float64 { return 10 * math.Log10(x+1e-30) }

// Every supported layout at every common rate becomes 8 kHz mono with the
// tone where it was and about the length it was.
func TestDecodeWAVLayouts(t *testing.T) {
	for _, c := range []struct {
		name                string
		tag, bits, channels int
	}{
		{"pcm8", wavPCM, 8, 1}, {"pcm16", wavPCM, 16, 1}, {"pcm16 stereo", wavPCM, 16, 2},
		{"pcm24", wavPCM, 24, 2}, {"pcm32", wavPCM, 32, 1}, {"float32", wavFloat, 32, 2},
		{"float64", wavFloat, 64, 1}, {"extensible pcm24", wavExtensible, 24, 2}, {"extensible float32", wavExtensible, 32, 1},
	} {
		for _, rate := range []int{8000, 16000, 22050, 44100, 48000} {
			raw := wavFile(t, c.tag, c.bits, rate, c.channels, 0.5, 1000)
			pcm, info, err := Decode(bytes.NewReader(raw), 10)
			if err != nil {
				t.Fatalf("%s at %d: %v", c.name, rate, err)
			}
			if info.Format != "wav" || info.Rate != rate || info.Channels != c.channels {
				t.Errorf("%s at %d: info %+v", c.name, rate, info)
			}
			if len(pcm) < 3990 || len(pcm) > 4010 {
				t.Errorf("%s at %d: %d samples, want 4000", c.name, rate, len(pcm))
			}
			mid := pcm[800:3200]
			if p := db(power(mid, 1000)); p < -7.5 || p > -5 { // 0.5 of full scale is -6 dB
				t.Errorf("%s at %d: 1 kHz at %.1f dB, want about -6", c.name, rate, p)
			}
		}
	}
}

// Stereo with a different tone per channel keeps both, each at half.
func TestDecodeMixesChannelsDown(t *testing.T) {
	pcm, _, err := Decode(bytes.NewReader(wavFile(t, wavPCM, 16, 44100, 2, 0.5, 600, 1500)), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []float64{600, 1500} {
		if p := db(power(pcm[800:3200], f)); p < -13.5 || p > -11 {
			t.Errorf("%v Hz at %.1f dB, want about -12", f, p)
		}
	}
}

// The proof of a real low-pass: 7 kHz in a 44.1 kHz file lies above the
// telephone band. Dropping or averaging samples folds it to 1 kHz at
// almost full strength; the filter must remove it (here: 60 dB or more),
// while a 3 kHz tone in the same file passes.
func TestDecodeFiltersBeforeDownsampling(t *testing.T) {
	for _, rate := range []int{22050, 44100, 48000} {
		alias := 8000 - 7000.0
		pcm, _, err := Decode(bytes.NewReader(wavFile(t, wavPCM, 16, rate, 1, 0.5, 7000)), 10)
		if err != nil {
			t.Fatal(err)
		}
		if p := db(power(pcm[800:3200], alias)); p > -66 {
			t.Errorf("%d Hz: 7 kHz folds to 1 kHz at %.1f dB, want below -66", rate, p)
		}
		pcm, _, err = Decode(bytes.NewReader(wavFile(t, wavPCM, 16, rate, 1, 0.5, 3000)), 10)
		if err != nil {
			t.Fatal(err)
		}
		if p := db(power(pcm[800:3200], 3000)); p < -7 {
			t.Errorf("%d Hz: 3 kHz passes at %.1f dB, want about -6", rate, p)
		}
	}
}

// testdata/tone1k.mp3 is 2 s of 1 kHz, 44.1 kHz stereo, made with
// `lame` (see testdata/README.md).
func TestDecodeMP3(t *testing.T) {
	raw, err := os.ReadFile("testdata/tone1k.mp3")
	if err != nil {
		t.Fatal(err)
	}
	pcm, info, err := Decode(bytes.NewReader(raw), 10)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "mp3" || info.Rate != 44100 {
		t.Errorf("info %+v", info)
	}
	if len(pcm) < 2*Rate-400 || len(pcm) > 2*Rate+1600 { // an encoder adds padding
		t.Errorf("%d samples, want about %d", len(pcm), 2*Rate)
	}
	if p := db(power(pcm[Rate/2:Rate*3/2], 1000)); p < -12 {
		t.Errorf("1 kHz at %.1f dB", p)
	}
	// Cut anywhere, the frames before the cut still decode.
	if pcm, _, err := Decode(bytes.NewReader(raw[:len(raw)/2]), 10); err != nil || len(pcm) < Rate/2 {
		t.Errorf("half an MP3: %d samples, %v", len(pcm), err)
	}
}

func TestDecodeRefusesBadFiles(t *testing.T) {
	long := wavFile(t, wavPCM, 16, 8000, 1, 3, 1000)
	mp3, err := os.ReadFile("testdata/tone1k.mp3")
	if err != nil {
		t.Fatal(err)
	}
	odd := wavFile(t, wavPCM, 16, 8000, 1, 0.1, 1000)
	binary.LittleEndian.PutUint16(odd[42:], 12) // 12-bit
	lowRate := wavFile(t, wavPCM, 16, 8000, 1, 0.1, 1000)
	binary.LittleEndian.PutUint32(lowRate[32:], 4000)
	adpcm := wavFile(t, wavPCM, 16, 8000, 1, 0.1, 1000)
	binary.LittleEndian.PutUint16(adpcm[28:], 2)
	for _, c := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"text", []byte("hello, this is not audio"), "neither WAV nor MP3"},
		{"too long wav", long, "longer than 2 seconds"},
		{"too long mp3", mp3, "longer than 1 seconds"},
		{"12-bit", odd, "12-bit PCM"},
		{"4 kHz", lowRate, "4000 Hz is not supported"},
		{"adpcm", adpcm, "WAV format 2"},
		{"no data", wavFile(t, wavPCM, 16, 8000, 1, 0, 1000)[:44], "no data chunk"},
		{"garbage mp3", append([]byte{0xFF, 0xFB, 0x90, 0x00}, bytes.Repeat([]byte{0x55}, 100)...), "MP3"},
	} {
		max := 2
		if strings.Contains(c.name, "mp3") && c.name != "garbage mp3" {
			max = 1
		}
		_, _, err := Decode(bytes.NewReader(c.raw), max)
		var fe *Error
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an *Error with %q", c.name, err, c.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(wavFile(f, wavPCM, 16, 8000, 1, 0.01, 1000))
	f.Add(wavFile(f, wavExtensible, 24, 44100, 2, 0.01, 1000))
	if raw, err := os.ReadFile("testdata/tone1k.mp3"); err == nil {
		f.Add(raw[:min(len(raw), 2000)])
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		pcm, _, err := Decode(bytes.NewReader(raw), 1)
		if err == nil && (len(pcm) == 0 || len(pcm) > Rate) {
			t.Fatalf("%d samples without an error", len(pcm))
		}
		var fe *Error
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("not an *Error: %v", err)
		}
	})
}

func BenchmarkDecode44k(b *testing.B) {
	raw := wavFile(b, wavPCM, 16, 44100, 2, 10, 1000)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, _, err := Decode(bytes.NewReader(raw), 60); err != nil {
			b.Fatal(err)
		}
	}
}
