package wav

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	pcm := []int16{0, 1, -1, 32767, -32768, 1234}
	var b bytes.Buffer
	if err := Write(&b, pcm, 8000); err != nil {
		t.Fatal(err)
	}
	got, rate, err := Read(&b)
	if err != nil || rate != 8000 || len(got) != len(pcm) {
		t.Fatalf("read back %v %d %v", got, rate, err)
	}
	for i := range pcm {
		if got[i] != pcm[i] {
			t.Fatalf("sample %d: %d, want %d", i, got[i], pcm[i])
		}
	}
}

func TestRejectsNonWAVAndStereo(t *testing.T) {
	if _, _, err := Read(bytes.NewReader([]byte("not a wav file at all"))); err == nil {
		t.Fatal("garbage accepted")
	}
	var b bytes.Buffer
	_ = Write(&b, []int16{1, 2}, 8000)
	raw := b.Bytes()
	raw[22] = 2 // channels
	if _, _, err := Read(bytes.NewReader(raw)); !errors.Is(err, ErrFormat) {
		t.Fatalf("stereo: %v, want ErrFormat", err)
	}
}

func TestStereoHeaderRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHeader(&b, 2, 8000, 2); err != nil {
		t.Fatal(err)
	}
	b.Write([]byte{1, 0, 2, 0, 3, 0, 4, 0})
	pcm, ch, rate, err := ReadInterleaved(&b)
	if err != nil || ch != 2 || rate != 8000 || len(pcm) != 4 || pcm[0] != 1 || pcm[3] != 4 {
		t.Fatalf("read back %v %d %d %v", pcm, ch, rate, err)
	}
	if err := WriteHeader(&b, 3, 8000, 1); !errors.Is(err, ErrFormat) {
		t.Fatalf("3 channels: %v", err)
	}
}
