package webhook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// MaxGETURL bounds the URL of a GET delivery. Servers commonly refuse
// request lines above 8 KiB; an event that does not fit is parked with an
// error telling the administrator to select fewer fields or use POST.
const MaxGETURL = 8192

// envelope is one event as receivers see it.
type envelope struct {
	ID        string          `json:"id"`
	Type      cti.EventType   `json:"type"`
	Timestamp string          `json:"timestamp"`
	TenantID  string          `json:"tenantId"`
	CallID    string          `json:"callId"`
	Data      json.RawMessage `json:"data"`
}

// timestampLayout is RFC 3339 in UTC with as many fraction digits as needed.
const timestampLayout = time.RFC3339Nano

// fieldTree is a compiled field selection: a trie of path segments.
type fieldTree struct {
	leaf     bool
	children map[string]*fieldTree
}

// compileFields builds the trie; nil means "everything".
func compileFields(paths []string) *fieldTree {
	if len(paths) == 0 {
		return nil
	}
	root := &fieldTree{}
	for _, p := range paths {
		n := root
		for seg := range strings.SplitSeq(p, ".") {
			if n.children == nil {
				n.children = map[string]*fieldTree{}
			}
			c := n.children[seg]
			if c == nil {
				c = &fieldTree{}
				n.children[seg] = c
			}
			n = c
		}
		n.leaf = true
	}
	return root
}

// pick returns the parts of v the tree selects, and whether anything was.
// A path segment applied to an array applies to every element.
func (t *fieldTree) pick(v any) (any, bool) {
	if t.leaf {
		return v, true
	}
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, c := range t.children {
			if cv, ok := x[k]; ok {
				if pv, ok := c.pick(cv); ok {
					out[k] = pv
				}
			}
		}
		return out, len(out) > 0
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if pv, ok := t.pick(e); ok {
				out = append(out, pv)
			}
		}
		return out, len(out) > 0
	}
	return nil, false
}

// decodeData decodes event data keeping numbers exact.
func decodeData(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode event data: %w", err)
	}
	return v, nil
}

// selectData applies the field selection to an event's data.
func selectData(raw json.RawMessage, fields *fieldTree) (json.RawMessage, error) {
	if fields == nil {
		return raw, nil
	}
	v, err := decodeData(raw)
	if err != nil {
		return nil, err
	}
	picked, ok := fields.pick(v)
	if !ok {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(picked)
	if err != nil {
		return nil, fmt.Errorf("encode selected data: %w", err)
	}
	return b, nil
}

func newEnvelope(ev *StoredEvent, fields *fieldTree) (envelope, error) {
	data, err := selectData(ev.Data, fields)
	if err != nil {
		return envelope{}, err
	}
	return envelope{
		ID:        ev.ID,
		Type:      ev.Type,
		Timestamp: ev.Time.UTC().Format(timestampLayout),
		TenantID:  ev.TenantID,
		CallID:    ev.CallID,
		Data:      data,
	}, nil
}

// postBody is the JSON body for one event, or an array for a batch. It is
// written by hand rather than with json.Marshal, which would re-validate
// the stored data (already compact JSON) on every attempt.
func postBody(evs []*StoredEvent, fields *fieldTree, batch bool) ([]byte, error) {
	size := 2
	for _, ev := range evs {
		size += len(ev.Data) + len(ev.ID) + len(ev.CallID) + 128
	}
	b := make([]byte, 0, size)
	if batch {
		b = append(b, '[')
	}
	for i, ev := range evs {
		env, err := newEnvelope(ev, fields)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = env.appendJSON(b)
	}
	if batch {
		b = append(b, ']')
	}
	return b, nil
}

// appendJSON appends the envelope as a JSON object; the same output as
// json.Marshal.
func (e *envelope) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, string(e.Type))
	b = append(b, `,"timestamp":`...)
	b = appendString(b, e.Timestamp)
	b = append(b, `,"tenantId":`...)
	b = appendString(b, e.TenantID)
	b = append(b, `,"callId":`...)
	b = appendString(b, e.CallID)
	b = append(b, `,"data":`...)
	if len(e.Data) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, e.Data...)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	simple := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			simple = false
			break
		}
	}
	if simple {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// batchID is the webhook-id of a batch: derived from the event ids it
// carries, so the same batch retried keeps its id.
func batchID(evs []*StoredEvent) string {
	h := sha256.New()
	for _, ev := range evs {
		h.Write([]byte(ev.ID))
		h.Write([]byte{0})
	}
	return "batch_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// getQuery is the query string of a GET delivery: the envelope fields and
// the selected data flattened to dotted names ("call.from",
// "agents.0.name"). Envelope names win over data paths of the same name.
func getQuery(ev *StoredEvent, fields *fieldTree) (url.Values, error) {
	env, err := newEnvelope(ev, fields)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	v, err := decodeData(env.Data)
	if err != nil {
		return nil, err
	}
	if _, ok := v.(map[string]any); ok {
		flatten(q, "", v)
	} else {
		flatten(q, "data", v)
	}
	q.Set("id", env.ID)
	q.Set("type", string(env.Type))
	q.Set("timestamp", env.Timestamp)
	q.Set("tenantId", env.TenantID)
	q.Set("callId", env.CallID)
	return q, nil
}

func flatten(q url.Values, prefix string, v any) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			flatten(q, join(k), x[k])
		}
	case []any:
		for i, e := range x {
			flatten(q, join(strconv.Itoa(i)), e)
		}
	case string:
		q.Set(prefix, x)
	case json.Number:
		q.Set(prefix, x.String())
	case bool:
		q.Set(prefix, strconv.FormatBool(x))
	case nil:
		if prefix != "" {
			q.Set(prefix, "")
		}
	}
}
