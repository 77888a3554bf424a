package crm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ivr"
)

// cardJSON is the lookup answer: {"name", "company", "tier", "notes",
// "url", "fields": {…}}. Field values may be strings, numbers or booleans.
type cardJSON struct {
	Name    string                     `json:"name"`
	Company string                     `json:"company"`
	Tier    string                     `json:"tier"`
	Notes   string                     `json:"notes"`
	URL     string                     `json:"url"`
	Fields  map[string]json.RawMessage `json:"fields"`
}

// parseCard reads a lookup answer. An empty object is no match.
func parseCard(body []byte) (*cti.Card, error) {
	var cj cardJSON
	if err := decodeObject(body, &cj); err != nil {
		return nil, fmt.Errorf("crm lookup: %w", err)
	}
	card := &cti.Card{Name: cj.Name, Company: cj.Company, Tier: cj.Tier, Notes: cj.Notes, URL: cj.URL}
	if len(cj.Fields) > 0 {
		card.Fields = make(map[string]string, len(cj.Fields))
		for k, raw := range cj.Fields {
			v, ok := scalar(raw)
			if !ok {
				return nil, fmt.Errorf("crm lookup: field %q must be a string, number or boolean", k)
			}
			card.Fields[k] = v
		}
	}
	if card.Name == "" && card.Company == "" && card.Tier == "" && card.Notes == "" && card.URL == "" && len(card.Fields) == 0 {
		return nil, nil
	}
	if err := card.Validate(); err != nil {
		return nil, fmt.Errorf("crm lookup: %w", err)
	}
	return card, nil
}

// routeJSON is the routing answer; exactly one target should be set.
type routeJSON struct {
	Extension json.RawMessage `json:"extension"`
	Number    json.RawMessage `json:"number"`
	Queue     json.RawMessage `json:"queue"`
	// Priority places a queued call (higher goes first).
	Priority *int `json:"priority"`
}

func parseRoute(body []byte) (cti.RouteDecision, error) {
	var rj routeJSON
	if err := decodeObject(body, &rj); err != nil {
		return cti.RouteDecision{}, fmt.Errorf("crm route: %w", err)
	}
	var d cti.RouteDecision
	set := 0
	for _, f := range []struct {
		raw json.RawMessage
		dst *string
	}{{rj.Extension, &d.Extension}, {rj.Number, &d.Number}, {rj.Queue, &d.Queue}} {
		if len(f.raw) == 0 || string(f.raw) == "null" {
			continue
		}
		v, ok := scalar(f.raw)
		if !ok || v == "" {
			return cti.RouteDecision{}, errors.New("crm route: targets must be non-empty strings or numbers")
		}
		*f.dst = v
		set++
	}
	switch set {
	case 0:
		return cti.RouteDecision{}, errors.New("crm route: the answer names no extension, number or queue")
	case 1:
		if rj.Priority != nil {
			if d.Queue == "" || *rj.Priority < -1000 || *rj.Priority > 1000 {
				return cti.RouteDecision{}, errors.New("crm route: priority is a number from -1000 to 1000, with a queue")
			}
			d.Priority = *rj.Priority
		}
		return d, nil
	}
	return cti.RouteDecision{}, errors.New("crm route: the answer names more than one target")
}

// ivrAnswerJSON is the answer to an IVR query: {"branch", "tag", "vars"}.
type ivrAnswerJSON struct {
	Branch json.RawMessage            `json:"branch"`
	Tag    json.RawMessage            `json:"tag"`
	Vars   map[string]json.RawMessage `json:"vars"`
}

// Limits on what an IVR answer may set, so a CRM cannot flood a call.
const (
	maxAnswerVars = 32
	maxAnswerText = 256
)

func parseIVRAnswer(body []byte) (cti.IVRAnswer, error) {
	var aj ivrAnswerJSON
	if err := decodeObject(body, &aj); err != nil {
		return cti.IVRAnswer{}, fmt.Errorf("crm query: %w", err)
	}
	var a cti.IVRAnswer
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *string
	}{{"branch", aj.Branch, &a.Branch}, {"tag", aj.Tag, &a.Tag}} {
		if len(f.raw) == 0 || string(f.raw) == "null" {
			continue
		}
		v, ok := scalar(f.raw)
		if !ok || len(v) > maxAnswerText {
			return cti.IVRAnswer{}, fmt.Errorf("crm query: %s must be a string or number of at most %d characters", f.name, maxAnswerText)
		}
		*f.dst = v
	}
	if len(aj.Vars) > maxAnswerVars {
		return cti.IVRAnswer{}, fmt.Errorf("crm query: at most %d vars", maxAnswerVars)
	}
	if len(aj.Vars) > 0 {
		a.Vars = make(map[string]string, len(aj.Vars))
		for k, raw := range aj.Vars {
			v, ok := scalar(raw)
			if !ivr.ValidVar(k) || !ok || len(v) > maxAnswerText {
				return cti.IVRAnswer{}, fmt.Errorf("crm query: var %q: names are lower-case letters, digits and _, values scalars of at most %d characters", k, maxAnswerText)
			}
			a.Vars[k] = v
		}
	}
	return a, nil
}

// decodeObject decodes exactly one JSON object.
func decodeObject(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return errors.New("the answer is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

// scalar turns a JSON string, number or boolean into text.
func scalar(raw json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), true
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return strconv.FormatBool(b), true
	}
	return "", false
}
