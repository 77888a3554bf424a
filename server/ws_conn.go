package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"

	"github.com/ringbridge/ringbridge/server/wsproto"
)

// Close codes of the agent websocket beyond RFC 6455's. The 4xxx range is
// for applications; mirroring HTTP statuses makes them guessable.
const (
	closeNormal       = websocket.CloseNormalClosure     // session ended
	closeGoingAway    = websocket.CloseGoingAway         // server shutting down
	closeTooBig       = websocket.CloseMessageTooBig     // message over WSMaxMessage
	closeInternal     = websocket.CloseInternalServerErr // server fault
	closePongTimeout  = websocket.ClosePolicyViolation   // no pong within two ping intervals
	closeUnauthorized = 4401                             // no, bad or expired token
	closeForbidden    = 4403                             // user may not take calls
	closeReplaced     = 4409                             // signed in elsewhere
	closeRevoked      = 4401                             // access revoked while open (same code as a bad token: sign in again)
	closeUnavailable  = 4503                             // media engine down
)

const (
	// wsQueue bounds the messages waiting for the write pump. A full queue
	// blocks the producer, which is the back-pressure we want: the session
	// in cti has its own bounded, dropping queue in front of us.
	wsQueue = 64
	// wsWriteWait bounds one write so a stalled client cannot pin the pump.
	wsWriteWait = 10 * time.Second
	// wsCloseGrace is how long we wait for the client's close frame after
	// sending ours before abandoning the read side.
	wsCloseGrace = 2 * time.Second
)

// wsConn owns the write side of one websocket. Gorilla-style connections
// allow one writer at a time, so pump is the only goroutine that writes
// data frames; everyone else calls send. Its lifetime ends with the handler
// goroutine, which must wait for pumpDone before returning because contrib
// returns the *websocket.Conn to a pool afterwards.
type wsConn struct {
	ws        *websocket.Conn
	log       *slog.Logger
	m         *metrics
	pingEvery time.Duration

	out        chan []byte
	feeds      chan feedSource // buffered(1): the session the pump forwards
	stop       chan struct{}   // closed once a close has been requested
	readerDone chan struct{}   // closed by the handler when it stops reading
	pumpDone   chan struct{}

	closeOnce sync.Once
	closeCode int
	closeText string

	// deadlineMu makes "extend the read deadline" and "end reading now"
	// mutually exclusive, so a late extension cannot undo a forced end.
	deadlineMu sync.Mutex
	readForced bool
}

func newWSConn(ws *websocket.Conn, log *slog.Logger, m *metrics, pingEvery time.Duration) *wsConn {
	return &wsConn{
		ws:         ws,
		log:        log,
		m:          m,
		pingEvery:  pingEvery,
		out:        make(chan []byte, wsQueue),
		feeds:      make(chan feedSource, 1),
		stop:       make(chan struct{}),
		readerDone: make(chan struct{}),
		pumpDone:   make(chan struct{}),
	}
}

// send queues msg for the client. It returns false once the connection is
// closing; the message is then dropped, which is fine because nobody is
// left to read it.
func (c *wsConn) send(msg *wsproto.Message) bool { return c.enqueue(msg, true) }

// trySend queues msg only if that needs no waiting, for callers that must
// not stall on another connection's slow client.
func (c *wsConn) trySend(msg *wsproto.Message) { c.enqueue(msg, false) }

func (c *wsConn) enqueue(msg *wsproto.Message, wait bool) bool {
	b, ok := c.encode(msg)
	if !ok {
		return false
	}
	select {
	case <-c.stop:
		return false
	default:
	}
	if wait {
		select {
		case c.out <- b:
		case <-c.stop:
			return false
		}
	} else {
		select {
		case c.out <- b:
		default:
			return false
		}
	}
	if msg.Type == wsproto.TypeError {
		c.m.wsErrors.WithLabelValues(msg.Code).Inc()
	}
	return true
}

// closeWith asks the pump to flush what is queued, then send a close frame
// with code and text. Only the first call counts.
func (c *wsConn) closeWith(code int, text string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText = code, text
		close(c.stop)
	})
}

// extendRead pushes the read deadline out by d, unless reading was ended.
func (c *wsConn) extendRead(d time.Duration) {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	if !c.readForced {
		_ = c.ws.SetReadDeadline(time.Now().Add(d))
	}
}

// endRead makes the blocked read in the handler return. Closing the net.Conn
// would not do it: fasthttp's hijacked conn ignores Close until the handler
// returns.
func (c *wsConn) endRead() {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	c.readForced = true
	_ = c.ws.SetReadDeadline(time.Unix(1, 0))
}

// pump writes queued messages and pings until a close is requested or a
// write fails.
//
// Once an agent's session is attached (feed), the pump also writes the
// session's events itself: a goroutine per session that only moved them
// from the session's queue to out would cost more than the events.
func (c *wsConn) pump() {
	defer close(c.pumpDone)
	ping := time.NewTicker(c.pingEvery)
	defer ping.Stop()
	var f feed
	defer f.stop()
	for {
		select {
		case b := <-c.out:
			if !c.write(b) {
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)); err != nil {
				c.fail(err)
				return
			}
		case <-c.stop:
			// Stop forwarding first: a resumed connection waits for it,
			// not for our close frame and its grace.
			f.stop()
			c.flushAndClose()
			return
		case src := <-c.feeds:
			f.start(src)
		case ev := <-f.events:
			if !f.src.relay(ev, c.writeMessage) {
				f.stop()
			}
		case <-f.recheck:
			if !f.src.recheck(c.writeMessage) {
				f.stop()
			}
		case <-f.done:
			// The closing event may sit in the queue behind others;
			// select picks ready cases at random, so drain first.
			f.drain(c.writeMessage)
			c.closeWith(closeNormal, "session closed")
			f.stop()
		}
	}
}

// writeMessage writes msg at once; only the pump may call it.
func (c *wsConn) writeMessage(msg *wsproto.Message) bool {
	b, ok := c.encode(msg)
	return ok && c.write(b)
}

// encode marshals msg; a failure is our bug, logged, and the message
// not sent.
func (c *wsConn) encode(msg *wsproto.Message) ([]byte, bool) {
	b, err := json.Marshal(msg)
	if err != nil {
		c.log.Error("encoding websocket message", "type", msg.Type, "err", err)
		return nil, false
	}
	return b, true
}

// setFeed hands the pump an agent session's events to write (once).
func (c *wsConn) setFeed(src feedSource) { c.feeds <- src }

func (c *wsConn) write(b []byte) bool {
	_ = c.ws.SetWriteDeadline(time.Now().Add(wsWriteWait))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.fail(err)
		return false
	}
	c.m.wsMessages.WithLabelValues(dirOut).Inc()
	return true
}

// fail handles a broken write side: nothing more can be sent, so stop
// producers and the reader.
func (c *wsConn) fail(err error) {
	c.log.Debug("websocket write failed", "err", err)
	c.closeWith(closeInternal, "")
	c.endRead()
}

// flushAndClose sends what producers queued before the close request (an
// error explaining the close, typically), then the close frame, then gives
// the client wsCloseGrace to answer before ending the read side.
func (c *wsConn) flushAndClose() {
flush:
	for {
		select {
		case b := <-c.out:
			if !c.write(b) {
				return
			}
		default:
			break flush
		}
	}
	msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
	// ErrCloseSent here means the reader already echoed the client's close.
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wsWriteWait))
	t := time.NewTimer(wsCloseGrace)
	defer t.Stop()
	select {
	case <-c.readerDone:
	case <-t.C:
		c.endRead()
	}
}

// wsRegistry tracks live websockets so Shutdown can close them: fasthttp
// forgets a connection once it is hijacked.
type wsRegistry struct {
	mu      sync.Mutex
	conns   map[*wsConn]struct{}
	closing bool
	code    int
	text    string
	wg      sync.WaitGroup
}

func newWSRegistry() *wsRegistry {
	return &wsRegistry{conns: map[*wsConn]struct{}{}}
}

// add registers c; after closeAll it closes c at once and returns false.
func (r *wsRegistry) add(c *wsConn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		c.closeWith(r.code, r.text)
		return false
	}
	r.conns[c] = struct{}{}
	r.wg.Add(1)
	return true
}

func (r *wsRegistry) remove(c *wsConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.conns[c]; ok {
		delete(r.conns, c)
		r.wg.Done()
	}
}

func (r *wsRegistry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

// closeAll asks every live connection, and every later one, to close.
func (r *wsRegistry) closeAll(code int, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closing, r.code, r.text = true, code, text
	for c := range r.conns {
		c.closeWith(code, text)
	}
}

// wait blocks until every registered connection's handler has returned.
func (r *wsRegistry) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
