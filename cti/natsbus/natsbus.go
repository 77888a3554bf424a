// Package natsbus is the cti.Bus of nodes connected through a NATS server
// (docs/scale-out.md): each change is one JSON message on one subject.
// Core NATS delivers at most once and in order per publisher; a change
// lost while a node is disconnected is repaired by the next change of the
// same agent, call or queue (each carries the whole object) or by a
// supervisor's next snapshot.
//
// # Concurrency
//
// A Bus is safe for concurrent use. The nats client runs each
// subscription's handler on one goroutine of its own, so a subscriber
// sees changes one at a time; Close ends them.
package natsbus

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ringbridge/ringbridge/cti"
)

var _ cti.Bus = (*Bus)(nil)

// subject carries every node's changes.
const subject = "ringbridge.changes"

// Bus is one node's connection.
type Bus struct {
	nc  *nats.Conn
	log *slog.Logger
}

// Connect connects node to the NATS server(s) at url (comma-separated
// nats:// URLs). It keeps reconnecting for as long as the process runs.
func Connect(url, node string, log *slog.Logger) (*Bus, error) {
	if log == nil {
		log = slog.Default()
	}
	nc, err := nats.Connect(url,
		nats.Name("ringbridge "+node),
		nats.NoEcho(), // a node's own changes are not sent back to it
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.Timeout(5*time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: our own Close
				log.Warn("bus: disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("bus: reconnected to NATS", "server", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect: %w", err)
	}
	return &Bus{nc: nc, log: log}, nil
}

// Publish sends c to the other nodes; the client buffers it.
func (b *Bus) Publish(c cti.NodeChange) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("natsbus: encode: %w", err)
	}
	if err := b.nc.Publish(subject, data); err != nil {
		return fmt.Errorf("natsbus: publish: %w", err)
	}
	return nil
}

// Subscribe delivers the other nodes' changes to fn.
func (b *Bus) Subscribe(fn func(cti.NodeChange)) (func(), error) {
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) {
		var c cti.NodeChange
		if err := json.Unmarshal(m.Data, &c); err != nil {
			b.log.Warn("bus: unreadable change", "err", err)
			return
		}
		fn(c)
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: subscribe: %w", err)
	}
	// The subscription is registered with the server before the first
	// change this node publishes or expects.
	if err := b.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("natsbus: subscribe: %w", err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// Close sends what is buffered (for up to a second) and disconnects.
func (b *Bus) Close() error {
	err := b.nc.FlushTimeout(time.Second)
	b.nc.Close()
	if err != nil && err != nats.ErrConnectionClosed {
		return fmt.Errorf("natsbus: close: %w", err)
	}
	return nil
}
