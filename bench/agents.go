package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/ringbridge/ringbridge/media/peer"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// agent is one signed-in softphone: a websocket session and a pion
// PeerConnection that sends stamped 20 ms PCMU frames while it has a call
// and nothing between calls (the softphone replaces its microphone track
// with none then), with RTCP reports every 5 s as Chrome sends them.
type agent struct {
	idx    int
	ext    string
	win    *window
	ws     *websocket.Conn
	wmu    sync.Mutex
	client *peer.Client

	nextID  atomic.Int64
	pmu     sync.Mutex
	pending map[string]chan wsproto.Message
	calls   chan callEvent // call events, stamped on arrival
	closed  chan struct{}

	// Media, written by the send ticker and the receive loop.
	seq        uint32
	inCall     atomic.Bool
	dialAt     atomic.Int64 // unix nanos of the current dial
	firstAudio atomic.Int64 // unix nanos of the first peer frame after dialAt
	audio      chan struct{}
	sentWin    atomic.Int64
	mu         sync.Mutex
	recvWin    int64
	delays     []int32 // one-way far end → server → agent, µs
	rtts       []int32 // agent → far end → agent, µs
}

type callEvent struct {
	call wsproto.Call
	at   time.Time
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// connectAgent opens the websocket with a token from login, authenticates,
// negotiates the PeerConnection and waits until it is up.
func connectAgent(ctx context.Context, base string, capi *peer.ClientAPI, idx int, token string, win *window) (*agent, error) {
	a := &agent{idx: idx, ext: strconv.Itoa(firstExt + idx), win: win, pending: map[string]chan wsproto.Message{},
		calls: make(chan callEvent, 64), closed: make(chan struct{}), audio: make(chan struct{}, 1)}
	hdr := http.Header{"Origin": {base}}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.DialContext(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws/agent", hdr)
	if err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	a.ws = ws
	go a.readLoop()
	ok := false
	defer func() {
		if !ok {
			a.close()
		}
	}()
	m, err := a.request(ctx, wsproto.Message{Type: wsproto.TypeAuth, Token: token})
	if err != nil {
		return nil, err
	}
	if m.Type != wsproto.TypeWelcome {
		return nil, fmt.Errorf("auth: %s %s", m.Code, m.Message)
	}
	if a.client, err = capi.NewClient(); err != nil {
		return nil, err
	}
	a.client.OnAudio(a.onAudio)
	offer, err := a.client.Offer(ctx, false)
	if err != nil {
		return nil, err
	}
	m, err = a.request(ctx, wsproto.Message{Type: wsproto.TypeOffer, SDP: offer})
	if err != nil {
		return nil, err
	}
	if m.Type != wsproto.TypeAnswer {
		return nil, fmt.Errorf("offer: %s %s", m.Code, m.Message)
	}
	if err := a.client.SetAnswer(m.SDP); err != nil {
		return nil, err
	}
	select {
	case <-a.client.Connected():
	case <-ctx.Done():
		return nil, fmt.Errorf("peer connection: %w", ctx.Err())
	}
	a.client.Mute(true)
	a.client.SendAudio(a.fill)
	ok = true
	return a, nil
}

func login(ctx context.Context, base, ext, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"tenant": tenantID, "login": ext, "password": password})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/auth/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := httpClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login %s: %d %s", ext, res.StatusCode, b)
	}
	var tr struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(b, &tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("login %s: bad reply %s", ext, b)
	}
	return tr.AccessToken, nil
}

func (a *agent) readLoop() {
	defer close(a.closed)
	for {
		_, data, err := a.ws.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now()
		var m wsproto.Message
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		if m.Type == wsproto.TypeCall && m.Call != nil {
			select {
			case a.calls <- callEvent{call: *m.Call, at: now}:
			default: // nobody is listening (a stray event); drop
			}
			continue
		}
		if m.ID == "" {
			continue
		}
		a.pmu.Lock()
		ch := a.pending[m.ID]
		delete(a.pending, m.ID)
		a.pmu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// request sends m with a fresh id and waits for the reply with that id.
func (a *agent) request(ctx context.Context, m wsproto.Message) (wsproto.Message, error) {
	m.ID = strconv.FormatInt(a.nextID.Add(1), 10)
	ch := make(chan wsproto.Message, 1)
	a.pmu.Lock()
	a.pending[m.ID] = ch
	a.pmu.Unlock()
	a.wmu.Lock()
	_ = a.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	err := a.ws.WriteJSON(m)
	a.wmu.Unlock()
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		select {
		case r := <-ch:
			return r, nil
		case <-a.closed:
			err = errors.New("websocket closed")
		case <-ctx.Done():
			err = fmt.Errorf("%s: no reply: %w", m.Type, ctx.Err())
		}
	}
	a.pmu.Lock()
	delete(a.pending, m.ID)
	a.pmu.Unlock()
	return wsproto.Message{}, err
}

// callResult is one placed call.
type callResult struct {
	id         string
	setup      time.Duration // dial sent → "active" event
	firstAudio time.Duration // dial sent → first frame from the peer
	err        error
}

// dial places a call to the SIP peer and waits until it is active and the
// first frame of the far end's audio has arrived.
func (a *agent) dial(ctx context.Context) callResult {
	for len(a.calls) > 0 {
		<-a.calls
	}
	select {
	case <-a.audio:
	default:
	}
	a.firstAudio.Store(0)
	t0 := time.Now()
	a.dialAt.Store(t0.UnixNano())
	// The softphone attaches its microphone as soon as it has a call.
	a.client.Mute(false)
	var r callResult
	m, err := a.request(ctx, wsproto.Message{Type: wsproto.TypeDial, To: dialNumber})
	if err != nil {
		a.client.Mute(true) // no call to hang up later
		r.err = err
		return r
	}
	if m.Type != wsproto.TypeAck || m.Call == nil {
		a.client.Mute(true)
		r.err = fmt.Errorf("dial: %s %s", m.Code, m.Message)
		return r
	}
	r.id = m.Call.ID
	ev, err := a.waitState(ctx, r.id, 10*time.Second, "active")
	if err != nil {
		r.err = err
		return r
	}
	r.setup = ev.at.Sub(t0)
	a.inCall.Store(true)
	select {
	case <-a.audio:
		r.firstAudio = time.Duration(a.firstAudio.Load() - t0.UnixNano())
	case <-time.After(5 * time.Second):
		r.err = errors.New("no audio from the peer within 5 s of answer")
	case <-ctx.Done():
		r.err = ctx.Err()
	}
	return r
}

// waitState waits for a call event reaching state (or "ended").
func (a *agent) waitState(ctx context.Context, id string, d time.Duration, state string) (callEvent, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case ev := <-a.calls:
			if ev.call.ID != id {
				continue
			}
			if ev.call.State == state {
				return ev, nil
			}
			if ev.call.State == "ended" {
				return ev, fmt.Errorf("call ended: %s", ev.call.EndReason)
			}
		case <-t.C:
			return callEvent{}, fmt.Errorf("call not %s within %s", state, d)
		case <-a.closed:
			return callEvent{}, errors.New("websocket closed")
		case <-ctx.Done():
			return callEvent{}, ctx.Err()
		}
	}
}

// hangup ends the call and waits for its "ended" event.
func (a *agent) hangup(ctx context.Context, id string) error {
	a.inCall.Store(false)
	a.dialAt.Store(0)
	a.client.Mute(true)
	m, err := a.request(ctx, wsproto.Message{Type: wsproto.TypeHangup, CallID: id})
	if err != nil {
		return err
	}
	if m.Type == wsproto.TypeError {
		if m.Code == wsproto.CodeNotFound {
			return nil // already over
		}
		return fmt.Errorf("hangup: %s %s", m.Code, m.Message)
	}
	_, err = a.waitState(ctx, id, 5*time.Second, "ended")
	if err != nil && strings.HasPrefix(err.Error(), "call ended") {
		err = nil
	}
	return err
}

// fill stamps the next outgoing frame (called by the client's ticker).
func (a *agent) fill(dst []byte) {
	now := time.Now().UnixNano()
	stamp(dst, kindAgent, uint16(a.idx), a.seq, now)
	a.seq++
	if a.inCall.Load() && a.win.in(now) {
		a.sentWin.Add(1)
	}
}

// onAudio handles a frame from the far end (called on the client's read
// loop): one of our own frames echoed, with the far end's send time added.
func (a *agent) onAudio(p []byte) {
	now := time.Now().UnixNano()
	kind, idx, _, sent, ok := parseStamp(p)
	if !ok || kind != kindEcho || int(idx) != a.idx&0xFFFF {
		return
	}
	if d := a.dialAt.Load(); d != 0 && sent > d && a.firstAudio.CompareAndSwap(0, now) {
		select {
		case a.audio <- struct{}{}:
		default:
		}
	}
	if a.win.in(sent) {
		a.mu.Lock()
		a.recvWin++
		a.rtts = append(a.rtts, int32(min((now-sent)/1000, 1<<31-1)))
		a.delays = append(a.delays, int32(min((now-echoTime(p))/1000, 1<<31-1)))
		a.mu.Unlock()
	}
}

// takeStats returns and resets the window counters.
func (a *agent) takeStats() (sent, recv int64, delays, rtts []int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	sent, recv, delays, rtts = a.sentWin.Swap(0), a.recvWin, a.delays, a.rtts
	a.recvWin, a.delays, a.rtts = 0, nil, nil
	return sent, recv, delays, rtts
}

func (a *agent) close() {
	if a.ws != nil {
		a.wmu.Lock()
		_ = a.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
			time.Now().Add(time.Second))
		a.wmu.Unlock()
		_ = a.ws.Close()
	}
	if a.client != nil {
		_ = a.client.Close()
	}
}
