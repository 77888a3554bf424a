package media

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/bridge"
	"github.com/ringbridge/ringbridge/media/player"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/wav"
)

var _ cti.Player = (*Engine)(nil)

// Play implements cti.Player: a goroutine writes the sounds into the
// endpoint's writer, a 20 ms frame at a time, until Stop. The endpoint
// must be linked to no one meanwhile (cti stops the playback before it
// links the call).
func (e *Engine) Play(ep cti.Endpoint, sounds []cti.Sound, loop bool) (cti.Playback, error) {
	leg, ok := ep.(bridge.Leg)
	if !ok {
		return nil, fmt.Errorf("endpoint %s carries no media", ep.EndpointID())
	}
	parts := make([]player.Part, 0, len(sounds)*2)
	for _, s := range sounds {
		p, err := soundParts(s)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p...)
	}
	if len(parts) == 0 {
		return nil, errors.New("nothing to play")
	}
	pb := &playback{w: leg.Writer(), src: player.NewSequence(parts, loop), stop: make(chan struct{}), done: make(chan struct{})}
	pb.w.NewSource()
	go pb.run()
	return pb, nil
}

// frames is how many 20 ms frames d lasts.
func frames(d time.Duration) int { return max(1, int(d/(20*time.Millisecond))) }

// soundParts turns one sound into sequence parts.
func soundParts(s cti.Sound) ([]player.Part, error) {
	switch {
	case s.Ringback:
		return []player.Part{{Source: player.NewRingback()}}, nil
	case len(s.Audio) > 0:
		return promptParts(s.Audio)
	case s.Digits != "":
		var parts []player.Part
		for _, d := range s.Digits {
			tone, ok := player.NewDigit(d, 0.25)
			if !ok {
				return nil, fmt.Errorf("%q is not a DTMF digit", d)
			}
			parts = append(parts, player.Part{Source: tone, Frames: 5}, player.Part{Source: player.Silence{}, Frames: 5})
		}
		return parts, nil
	case s.ToneHz > 0:
		return []player.Part{{Source: player.NewTone(s.ToneHz, 0.3), Frames: frames(s.Length)}}, nil
	case s.Music != "":
		f, err := os.Open(s.Music)
		if err != nil {
			return nil, fmt.Errorf("hold music: %w", err)
		}
		defer f.Close()
		pcm, rate, err := wav.Read(f)
		if err != nil {
			return nil, fmt.Errorf("hold music %s: %w", s.Music, err)
		}
		n := len(pcm) * 8000 / max(rate, 1) / 160
		return []player.Part{{Source: player.NewSamples(pcm, rate), Frames: max(n, 1)}}, nil
	}
	return []player.Part{{Source: player.NewHoldMusic(), Frames: 4 * 20}}, nil
}

// playback writes one sequence into a leg.
type playback struct {
	w    *rtpio.Writer
	src  *player.Sequence
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func (p *playback) run() {
	defer close(p.done)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	codec := p.w.Format().Codec
	var frame rtpio.Frame
	payload := make([]byte, 160)
	var seq uint16
	var ts uint32
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		if p.src.Done() {
			continue
		}
		p.src.Next(codec, payload)
		seq++
		ts += 160
		frame = rtpio.Frame{Codec: codec, Payload: payload}
		frame.Header.SSRC = playbackSSRC
		frame.Header.SequenceNumber = seq
		frame.Header.Timestamp = ts
		p.w.WriteFrame(&frame)
	}
}

// playbackSSRC marks our played audio as a source of its own, so the
// writer keeps the far end's timeline continuous across the switch.
const playbackSSRC = 0x504C4159

// Stop implements cti.Playback.
func (p *playback) Stop() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
}
