// Package media is the voice path. Engine implements the ports cti
// declares by composing the packages below it: peer (browsers, pion),
// trunk (SIP, sipgo), bridge (relaying between legs) and rtpio.
package media

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/bridge"
	"github.com/ringbridge/ringbridge/media/mix"
	"github.com/ringbridge/ringbridge/media/peer"
	"github.com/ringbridge/ringbridge/media/recorder"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

var (
	_ cti.MediaEngine = (*Engine)(nil)
	_ cti.Recorder    = (*Engine)(nil)
	_ cti.Recording   = (*recording)(nil)
	_ bridge.Tap      = (*recorder.Recorder)(nil)
)

// Dialer places outbound SIP calls (trunk.Trunks).
type Dialer interface {
	Dial(ctx context.Context, req cti.DialRequest) (cti.OutboundLeg, error)
}

// Engine is the media engine.
type Engine struct {
	peers  *peer.API
	dialer Dialer
	recDir string // recordings go to recDir/<tenant>/<id>.wav; "" records nothing
}

// NewEngine builds the engine. The dialer is set with SetDialer once the
// SIP stack exists, because the SIP stack needs cti, which needs the engine.
func NewEngine(peers *peer.API) *Engine { return &Engine{peers: peers} }

// SetDialer sets the SIP stack used for outbound calls.
func (e *Engine) SetDialer(d Dialer) { e.dialer = d }

// SetRecordingDir sets where recordings are written (<dir>/<tenant>/<id>.wav).
// Call it before the engine is in use; without it StartRecording fails.
func (e *Engine) SetRecordingDir(dir string) { e.recDir = dir }

// StartRecording implements cti.Recorder.
func (e *Engine) StartRecording(_ context.Context, req cti.RecordingRequest) (cti.Recording, error) {
	path, err := e.recordingPath(req)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("recording directory: %w", err)
	}
	newRecorder := recorder.New
	if req.Paused {
		newRecorder = recorder.NewPaused
	}
	r, err := newRecorder(path, nil)
	if err != nil {
		return nil, err
	}
	return &recording{rec: r}, nil
}

// RecordEndpoint implements cti.Recorder: the endpoint's reader feeds the
// recorder's right channel (the far end's, as in a call), and nothing
// else, until Stop.
func (e *Engine) RecordEndpoint(ctx context.Context, req cti.RecordingRequest, ep cti.Endpoint) (cti.Recording, error) {
	leg, ok := ep.(bridge.Leg)
	if !ok {
		return nil, fmt.Errorf("endpoint %s carries no media", ep.EndpointID())
	}
	r, err := e.StartRecording(ctx, req)
	if err != nil {
		return nil, err
	}
	rec := r.(*recording)
	rec.only = &listenSink{rec: rec.rec}
	rec.leg = leg
	leg.Reader().Sink.Store(rec.only)
	return rec, nil
}

// listenSink hands a leg's frames to a recorder alone.
type listenSink struct{ rec *recorder.Recorder }

// WriteFrame implements rtpio.Sink.
func (s *listenSink) WriteFrame(f *rtpio.Frame) { s.rec.TapFrame(recorder.Right, f) }

// recordingPath is where a tenant's recording lives.
func (e *Engine) recordingPath(req cti.RecordingRequest) (string, error) {
	if e.recDir == "" {
		return "", errors.New("no recording directory configured")
	}
	if !safeName(req.TenantID) || !safeName(req.ID) {
		return "", fmt.Errorf("recording %q of tenant %q: unsafe file name", req.ID, req.TenantID)
	}
	return filepath.Join(e.recDir, req.TenantID, req.ID+".wav"), nil
}

// RecoverRecording implements cti.Recorder.
func (e *Engine) RecoverRecording(_ context.Context, req cti.RecordingRequest) (cti.RecordingFile, error) {
	path, err := e.recordingPath(req)
	if err != nil {
		return cti.RecordingFile{}, err
	}
	res, err := recorder.Recover(path)
	if err != nil {
		return cti.RecordingFile{}, err
	}
	return cti.RecordingFile{Path: res.Path, Duration: res.Duration, Size: res.Size}, nil
}

// SweepRecordings implements cti.Recorder: it removes part files no call
// claimed (a crash between starting a recording and storing the call's
// picture) and the channel files of older versions.
func (e *Engine) SweepRecordings(_ context.Context) ([]string, error) {
	if e.recDir == "" {
		return nil, nil
	}
	var removed []string
	var errs []error
	for _, pat := range []string{"*" + recorder.PartSuffix, ".*.raw", ".*.tmp"} {
		m, err := filepath.Glob(filepath.Join(e.recDir, "*", pat))
		if err != nil {
			return removed, err
		}
		for _, f := range m {
			if err := os.Remove(f); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, f)
		}
	}
	return removed, errors.Join(errs...)
}

// safeName accepts ids usable as one path element.
func safeName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`+"\x00")
}

// recording is a cti.Recording: a recorder tapped into the call's
// current bridge connection.
type recording struct {
	rec *recorder.Recorder
	// only and leg are set for a recording of one endpoint.
	only *listenSink
	leg  bridge.Leg
}

// Attach implements cti.Recording: the connection's first endpoint is the
// left channel, the second the right.
func (r *recording) Attach(conn cti.Connection) error {
	switch c := conn.(type) {
	case *bridge.Connection:
		c.SetTap(r.rec)
	case *mix.Mix:
		c.SetTap(r.rec)
	default:
		return fmt.Errorf("cannot record a %T", conn)
	}
	return nil
}

// Pause implements cti.Recording.
func (r *recording) Pause() time.Duration { return r.rec.Pause() }

// Resume implements cti.Recording.
func (r *recording) Resume() time.Duration { return r.rec.Resume() }

// Stop implements cti.Recording.
func (r *recording) Stop() (cti.RecordingFile, error) {
	if r.only != nil {
		r.leg.Reader().Sink.CompareAndClear(r.only)
	}
	res, err := r.rec.Close()
	if err != nil {
		return cti.RecordingFile{}, err
	}
	return cti.RecordingFile{Path: res.Path, Duration: res.Duration, Size: res.Size}, nil
}

// NewAgentEndpoint implements cti.MediaEngine.
func (e *Engine) NewAgentEndpoint(_ context.Context, id string, ev cti.AgentEndpointEvents) (cti.AgentEndpoint, error) {
	return e.peers.NewEndpoint(id, ev)
}

// Dial implements cti.MediaEngine.
func (e *Engine) Dial(ctx context.Context, req cti.DialRequest) (cti.OutboundLeg, error) {
	if e.dialer == nil {
		return nil, errors.New("no SIP stack")
	}
	return e.dialer.Dial(ctx, req)
}

// ConnectHeld implements cti.HeldConnector.
func (e *Engine) ConnectHeld(a, b cti.Endpoint) (cti.Connection, error) {
	la, lb, err := legs(a, b)
	if err != nil {
		return nil, err
	}
	return bridge.ConnectHeld(la, lb), nil
}

func legs(a, b cti.Endpoint) (bridge.Leg, bridge.Leg, error) {
	la, ok := a.(bridge.Leg)
	if !ok {
		return nil, nil, fmt.Errorf("endpoint %s carries no media", a.EndpointID())
	}
	lb, ok := b.(bridge.Leg)
	if !ok {
		return nil, nil, fmt.Errorf("endpoint %s carries no media", b.EndpointID())
	}
	return la, lb, nil
}

// Connect implements cti.MediaEngine.
func (e *Engine) Connect(a, b cti.Endpoint) (cti.Connection, error) {
	la, lb, err := legs(a, b)
	if err != nil {
		return nil, err
	}
	return bridge.Connect(la, lb), nil
}
