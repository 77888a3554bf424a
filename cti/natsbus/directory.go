package natsbus

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringbridge/ringbridge/cti"
)

var _ cti.SessionDirectory = (*Directory)(nil)

// DirectoryBucket is the JetStream KV bucket of agents' sessions.
const DirectoryBucket = "ringbridge_sessions"

// Directory is the cti.SessionDirectory on a JetStream KV bucket kept in
// the NATS server's memory: entries live for the bucket's TTL unless a
// node writes them again (every cti.DirectoryRefresh), so a dead node's
// agents drop out by themselves, and a restarted NATS server is filled
// again within one refresh. It is safe for concurrent use.
type Directory struct {
	kv jetstream.KeyValue
}

// Directory opens (creating it if needed) the bucket on b's connection;
// ttl 0 is 3×cti.DirectoryRefresh. Needs a server run with JetStream (-js).
func (b *Bus) Directory(ctx context.Context, ttl time.Duration) (*Directory, error) {
	if ttl <= 0 {
		ttl = 3 * cti.DirectoryRefresh
	}
	js, err := jetstream.New(b.nc)
	if err != nil {
		return nil, fmt.Errorf("natsbus: jetstream: %w", err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: DirectoryBucket, Description: "which ringbridge node holds each agent's session",
		History: 1, TTL: ttl, Storage: jetstream.MemoryStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: session directory (is JetStream enabled on the NATS server?): %w", err)
	}
	return &Directory{kv: kv}, nil
}

// key is the entry of an agent; hex keeps any tenant id or extension
// within the characters KV keys allow.
func key(tenant, ext string) string {
	return "a." + hex.EncodeToString([]byte(tenant)) + "." + hex.EncodeToString([]byte(ext))
}

// Put implements cti.SessionDirectory.
func (d *Directory) Put(ctx context.Context, loc cti.SessionLocation) error {
	b, err := json.Marshal(loc)
	if err != nil {
		return fmt.Errorf("natsbus: encode session: %w", err)
	}
	if _, err := d.kv.Put(ctx, key(loc.Tenant, loc.Extension), b); err != nil {
		return fmt.Errorf("natsbus: put session: %w", err)
	}
	return nil
}

// Get implements cti.SessionDirectory.
func (d *Directory) Get(ctx context.Context, tenant, ext string) (cti.SessionLocation, bool, error) {
	loc, _, ok, err := d.get(ctx, tenant, ext)
	return loc, ok, err
}

func (d *Directory) get(ctx context.Context, tenant, ext string) (cti.SessionLocation, uint64, bool, error) {
	e, err := d.kv.Get(ctx, key(tenant, ext))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return cti.SessionLocation{}, 0, false, nil
	}
	if err != nil {
		return cti.SessionLocation{}, 0, false, fmt.Errorf("natsbus: get session: %w", err)
	}
	var loc cti.SessionLocation
	if err := json.Unmarshal(e.Value(), &loc); err != nil {
		return cti.SessionLocation{}, 0, false, fmt.Errorf("natsbus: decode session: %w", err)
	}
	return loc, e.Revision(), true, nil
}

// Delete implements cti.SessionDirectory: only the revision it read, so
// a sign-in on another node in between is kept.
func (d *Directory) Delete(ctx context.Context, loc cti.SessionLocation) error {
	cur, rev, ok, err := d.get(ctx, loc.Tenant, loc.Extension)
	if err != nil || !ok || cur.Node != loc.Node || cur.Session != loc.Session {
		return err
	}
	err = d.kv.Delete(ctx, key(loc.Tenant, loc.Extension), jetstream.LastRevision(rev))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return nil // written again meanwhile: no longer ours to delete
	}
	if err != nil {
		return fmt.Errorf("natsbus: delete session: %w", err)
	}
	return nil
}
