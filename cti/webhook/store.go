package webhook

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// Endpoint is a configured receiver of one tenant.
type Endpoint struct {
	ID       string // "whk_…"
	TenantID string
	Config   Config
	// Secret signs every request: "whsec_" and the base64 key. It is
	// stored as is, because signing needs it (see docs/webhooks.md).
	Secret    string
	CreatedAt time.Time
	UpdatedAt time.Time
	// State is maintained by the worker; configuration updates leave it.
	State EndpointState
}

// EndpointState is the worker's persisted view of the receiver's health.
type EndpointState struct {
	// PausedUntil holds every delivery back (Retry-After).
	PausedUntil time.Time
	// Failures counts consecutive failed attempts; from two on, the
	// endpoint is treated as down and only retries due probe it.
	Failures int
}

// Status is where a delivery stands.
type Status string

const (
	// StatusPending: not attempted yet (or sent back by a redelivery).
	StatusPending Status = "pending"
	// StatusFailed: attempted and failed; retried at NextAttemptAt.
	StatusFailed Status = "failed"
	// StatusDelivered: the receiver answered 2xx.
	StatusDelivered Status = "delivered"
	// StatusParked: the last retry failed too; waits for a redelivery.
	StatusParked Status = "parked"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusFailed, StatusDelivered, StatusParked:
		return true
	}
	return false
}

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	Seq        int64 // position in the outbox, increasing with publication
	TenantID   string
	EndpointID string
	EventID    string
	EventType  cti.EventType
	CallID     string
	Status     Status
	Attempts   int
	// NextAttemptAt is when a pending or failed delivery is due.
	NextAttemptAt  time.Time
	LastAttemptAt  time.Time
	LastStatusCode int // HTTP status of the last attempt; 0 if none came back
	LastError      string
	DeliveredAt    time.Time
	CreatedAt      time.Time
}

// deliveryPrefix starts every public delivery id.
const deliveryPrefix = "dlv_"

// ID is the public id of the delivery: "dlv_" and its sequence number.
func (d *Delivery) ID() string { return DeliveryID(d.Seq) }

// DeliveryID formats a sequence number as a public delivery id.
func DeliveryID(seq int64) string { return deliveryPrefix + strconv.FormatInt(seq, 10) }

// ParseDeliveryID is the inverse of DeliveryID.
func ParseDeliveryID(id string) (int64, bool) {
	s, ok := strings.CutPrefix(id, deliveryPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// StoredEvent is an event as the outbox keeps it.
type StoredEvent struct {
	ID       string
	TenantID string
	Type     cti.EventType
	CallID   string
	Time     time.Time
	Data     json.RawMessage
}

// NewDeliveries is one published event and the endpoints it goes to.
type NewDeliveries struct {
	Event       StoredEvent
	EndpointIDs []string
	// State, when set, is stored in the same transaction (see
	// cti.EventState); an event with no endpoints is then not stored, but
	// its state is.
	State *cti.EventState
}

// QueueItem is an undelivered delivery as the worker scans it.
type QueueItem struct {
	Seq      int64
	EventID  string
	CallID   string
	Status   Status
	Attempts int
	NextAt   time.Time
}

// Result is the outcome of one attempt, written back by the worker.
type Result struct {
	Seq int64
	// PrevAttempts is the attempt count the worker read; a row whose count
	// changed meanwhile (an administrator's redelivery) is left alone.
	PrevAttempts int
	Status       Status
	Attempts     int
	NextAt       time.Time // for pending and failed
	At           time.Time // when the attempt was made
	Code         int
	Error        string
}

// DeliveryQuery selects deliveries for the API: newest first, optionally of
// one status, below a cursor.
type DeliveryQuery struct {
	Status Status // empty: any
	Before int64  // only Seq < Before; 0: from the newest
	Limit  int
}

// Store is the persistence the outbox needs. Methods taking a tenantID
// never touch another tenant's rows and report KindNotFound for them.
type Store interface {
	// Endpoints.
	CreateEndpoint(ctx context.Context, ep *Endpoint) error
	UpdateEndpoint(ctx context.Context, ep *Endpoint) error
	DeleteEndpoint(ctx context.Context, tenantID, id string) error
	GetEndpoint(ctx context.Context, tenantID, id string) (*Endpoint, error)
	// ListEndpoints returns a tenant's endpoints, or every endpoint when
	// tenantID is empty, ordered by id.
	ListEndpoints(ctx context.Context, tenantID string) ([]Endpoint, error)

	// Enqueue stores one delivery (status pending, due at now) per event
	// and endpoint, each carrying its event, and every event's State, in
	// one transaction.
	Enqueue(ctx context.Context, batch []NewDeliveries, now time.Time) error
	// Queue returns up to limit pending or failed deliveries of an
	// endpoint with Seq > after, in Seq order.
	Queue(ctx context.Context, endpointID string, after int64, limit int) ([]QueueItem, error)
	// Payloads loads the events of an endpoint's deliveries, by Seq.
	Payloads(ctx context.Context, endpointID string, seqs []int64) (map[int64]*StoredEvent, error)
	// RecordResults writes attempt outcomes and, when state is not nil,
	// the endpoint's state, in one transaction.
	RecordResults(ctx context.Context, endpointID string, results []Result, state *EndpointState) error
	// RecordRequest notes a request made to a rate-limited endpoint.
	RecordRequest(ctx context.Context, endpointID string, at time.Time) error
	// Requests returns the times of the latest requests (at most limit)
	// made since since, oldest first.
	Requests(ctx context.Context, endpointID string, since time.Time, limit int) ([]time.Time, error)

	// Deliveries lists an endpoint's deliveries for the API.
	Deliveries(ctx context.Context, tenantID, endpointID string, q DeliveryQuery) ([]Delivery, error)
	GetDelivery(ctx context.Context, tenantID string, seq int64) (*Delivery, error)
	// CountDeliveries counts an endpoint's deliveries by status.
	CountDeliveries(ctx context.Context, tenantID, endpointID string) (map[Status]int, error)
	// Redeliver makes one delivery pending again, due at now, with its
	// attempts reset; it keeps its place (Seq) in the queue.
	Redeliver(ctx context.Context, tenantID string, seq int64, now time.Time) (*Delivery, error)
	// RedeliverAll does the same for every delivery of an endpoint in the
	// given status and returns how many there were.
	RedeliverAll(ctx context.Context, tenantID, endpointID string, status Status, now time.Time) (int, error)

	// Prune deletes deliveries delivered before deliveredBefore and
	// request records older than requestsBefore.
	Prune(ctx context.Context, deliveredBefore, requestsBefore time.Time) (int64, error)
}
