package cti

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Hold music that administrators upload: a 16-bit PCM mono WAV at 8, 16,
// 24, 32 or 48 kHz (brought down to 8 kHz when played), kept in
// Config.MusicDir under the queue's id.

// MaxMusicBytes bounds an upload (the API's body limit is 1 MiB too).
const MaxMusicBytes = 1 << 20

// SetQueueMusic stores a queue's hold music; calls that join from then on
// hear it.
func (s *Service) SetQueueMusic(ctx context.Context, p Principal, id string, wav []byte) (*QueueConfig, error) {
	if err := p.require(rolesAdmin, "configure queues"); err != nil {
		return nil, err
	}
	q, err := s.store.GetQueue(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if err := checkMusic(wav); err != nil {
		return nil, err
	}
	if s.cfg.MusicDir == "" {
		return nil, Errorf(KindUnavailable, "no directory for hold music is configured")
	}
	if err := os.MkdirAll(s.cfg.MusicDir, 0o750); err != nil {
		return nil, fmt.Errorf("hold music directory: %w", err)
	}
	name := q.ID + ".wav"
	tmp := filepath.Join(s.cfg.MusicDir, "."+name+".tmp")
	if err := os.WriteFile(tmp, wav, 0o640); err != nil {
		return nil, fmt.Errorf("hold music: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.cfg.MusicDir, name)); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("hold music: %w", err)
	}
	q.Music, q.UpdatedAt = name, time.Now().UTC()
	if err := s.store.UpdateQueue(ctx, q); err != nil {
		return nil, err
	}
	s.audit(ctx, p, p.TenantID, "queue.music", q.ID, map[string]any{"bytes": len(wav)})
	return q, nil
}

// checkMusic accepts what the player can play: RIFF/WAVE, 16-bit PCM,
// mono, at a multiple of 8 kHz up to 48 kHz, with some audio.
func checkMusic(b []byte) error {
	bad := func(why string) error {
		return InvalidField("music", "hold music must be a 16-bit PCM mono WAV file at 8–48 kHz: "+why)
	}
	switch {
	case len(b) > MaxMusicBytes:
		return InvalidField("music", "hold music is at most 1 MiB (about a minute at 8 kHz)")
	case len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE":
		return bad("not a RIFF/WAVE file")
	}
	fmtOK, data := false, 0
	for i := 12; i+8 <= len(b); {
		id, size := string(b[i:i+4]), int(binary.LittleEndian.Uint32(b[i+4:i+8]))
		body := b[i+8:]
		switch id {
		case "fmt ":
			if size < 16 || len(body) < 16 {
				return bad("short fmt chunk")
			}
			format, channels := binary.LittleEndian.Uint16(body[0:2]), binary.LittleEndian.Uint16(body[2:4])
			rate, bits := binary.LittleEndian.Uint32(body[4:8]), binary.LittleEndian.Uint16(body[14:16])
			if format != 1 || bits != 16 {
				return bad("not 16-bit PCM")
			}
			if channels != 1 {
				return bad(fmt.Sprintf("%d channels", channels))
			}
			if rate < 8000 || rate > 48000 || rate%8000 != 0 {
				return bad(fmt.Sprintf("%d Hz", rate))
			}
			fmtOK = true
		case "data":
			data = min(size, len(body))
		}
		if size < 0 || size > len(b) {
			break
		}
		i += 8 + size + size%2
	}
	switch {
	case !fmtOK:
		return bad("no fmt chunk")
	case data < 1600:
		return bad("less than a tenth of a second of audio")
	}
	return nil
}
