// Package wav reads and writes the 16-bit PCM WAV files the voice path
// plays and records: mono prompts and test tones, stereo recordings.
package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrFormat means the file is not 16-bit PCM with the expected channels.
var ErrFormat = errors.New("wav: want 16-bit PCM, mono (or stereo where allowed)")

// Read returns the samples and sample rate of a 16-bit PCM mono WAV file.
func Read(r io.Reader) ([]int16, int, error) {
	pcm, channels, rate, err := ReadInterleaved(r)
	if err != nil {
		return nil, 0, err
	}
	if channels != 1 {
		return nil, 0, ErrFormat
	}
	return pcm, rate, nil
}

// ReadInterleaved returns the samples (interleaved by channel), channel
// count and sample rate of a 16-bit PCM WAV file with 1 or 2 channels.
func ReadInterleaved(r io.Reader) ([]int16, int, int, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, 0, 0, fmt.Errorf("wav header: %w", err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, 0, 0, errors.New("wav: not a RIFF/WAVE file")
	}
	rate, channels := 0, 0
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, 0, 0, fmt.Errorf("wav: no data chunk: %w", err)
		}
		size := binary.LittleEndian.Uint32(ch[4:8])
		switch string(ch[0:4]) {
		case "fmt ":
			if size < 16 || size > 1<<10 {
				return nil, 0, 0, ErrFormat
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, 0, 0, err
			}
			format, ch := binary.LittleEndian.Uint16(b[0:2]), binary.LittleEndian.Uint16(b[2:4])
			bits := binary.LittleEndian.Uint16(b[14:16])
			if format != 1 || ch < 1 || ch > 2 || bits != 16 {
				return nil, 0, 0, ErrFormat
			}
			rate, channels = int(binary.LittleEndian.Uint32(b[4:8])), int(ch)
		case "data":
			if rate == 0 {
				return nil, 0, 0, errors.New("wav: data before fmt chunk")
			}
			if size > 1<<30 {
				return nil, 0, 0, errors.New("wav: data chunk too large")
			}
			b := make([]byte, size)
			n, err := io.ReadFull(r, b)
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, 0, 0, err
			}
			pcm := make([]int16, n/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
			}
			return pcm, channels, rate, nil
		default:
			if _, err := io.CopyN(io.Discard, r, int64(size+size%2)); err != nil {
				return nil, 0, 0, err
			}
		}
	}
}

// HeaderSize is the length of the header WriteHeader writes.
const HeaderSize = 44

// MaxFrames is the most sample frames (one sample per channel) a stereo
// 16-bit file can hold: the RIFF sizes are 32-bit.
const MaxFrames = (1<<32 - 1 - HeaderSize) / 4

// WriteHeader writes the header of a 16-bit PCM WAV file holding frames
// sample frames of channels channels; the interleaved samples follow it.
// Knowing the length up front lets a recording be streamed out without
// seeking back or holding it in memory.
func WriteHeader(w io.Writer, channels, rate int, frames int64) error {
	if channels < 1 || channels > 2 || frames < 0 || frames > MaxFrames {
		return ErrFormat
	}
	data := frames * int64(channels) * 2
	var h [HeaderSize]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+data))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], uint16(channels))
	binary.LittleEndian.PutUint32(h[24:], uint32(rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(rate*channels*2))
	binary.LittleEndian.PutUint16(h[32:], uint16(channels*2))
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(data))
	_, err := w.Write(h[:])
	return err
}

// Write writes samples as a 16-bit PCM mono WAV file.
func Write(w io.Writer, pcm []int16, rate int) error {
	data := len(pcm) * 2
	if err := WriteHeader(w, 1, rate, int64(len(pcm))); err != nil {
		return err
	}
	b := make([]byte, data)
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	_, err := w.Write(b)
	return err
}
