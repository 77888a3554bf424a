package media

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/audiofile"
	"github.com/ringbridge/ringbridge/media/player"
	"github.com/ringbridge/ringbridge/media/wav"
)

var _ cti.PromptDecoder = (*Engine)(nil)

// DecodePrompt implements cti.PromptDecoder: an uploaded WAV or MP3 file
// becomes 8 kHz mono 16-bit WAV. A file it cannot take is a KindInvalid
// error saying why.
func (e *Engine) DecodePrompt(r io.Reader, maxSeconds int) (*cti.DecodedPrompt, error) {
	cr := &countingReader{r: r}
	pcm, info, err := audiofile.Decode(cr, maxSeconds)
	var fe *audiofile.Error
	if errors.As(err, &fe) {
		return nil, &cti.Error{Kind: cti.KindInvalid, Message: fe.Msg, Fields: []cti.FieldError{{Field: "file", Message: fe.Msg}}}
	}
	if err != nil {
		return nil, fmt.Errorf("decode prompt: %w", err)
	}
	var b bytes.Buffer
	if err := wav.Write(&b, pcm, audiofile.Rate); err != nil {
		return nil, fmt.Errorf("encode prompt: %w", err)
	}
	return &cti.DecodedPrompt{WAV: b.Bytes(), Samples: len(pcm), Source: cti.AudioInfo{
		Format: info.Format, Encoding: info.Encoding, Rate: info.Rate, Channels: info.Channels, Bytes: int(cr.n)}}, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// promptParts plays a stored prompt (8 kHz mono WAV in memory) once.
func promptParts(audio []byte) ([]player.Part, error) {
	pcm, rate, err := wav.Read(bytes.NewReader(audio))
	if err != nil {
		return nil, fmt.Errorf("prompt: %w", err)
	}
	if rate != audiofile.Rate {
		return nil, fmt.Errorf("prompt: stored at %d Hz, want %d", rate, audiofile.Rate)
	}
	// Whole frames only: Samples loops, so a part frame would replay the
	// prompt's first milliseconds at its end.
	if rest := len(pcm) % 160; rest != 0 {
		pcm = append(pcm, make([]int16, 160-rest)...)
	}
	return []player.Part{{Source: player.NewSamples(pcm, rate), Frames: max(1, len(pcm)/160)}}, nil
}
