package cti

import (
	"context"
	"log/slog"
	"time"
)

// Screen pop: the phonebook answers first — it is local and fast, so the
// card rides with the ringing event — then the tenant's CRM is asked in
// the background. Its card replaces the phonebook's when it arrives; a
// slow, failing or garbled CRM is logged and leaves the phonebook card
// (or none) in place. Ringing never waits for the CRM.

// remoteNumber is the customer's number on a call, E.164 when possible.
func (c *Call) remoteNumber() string {
	c.mu.Lock()
	tenant, dir, from, to := c.info.TenantID, c.info.Direction, c.info.From, c.info.To
	c.mu.Unlock()
	raw := from
	if dir == DirectionOutbound {
		raw = to
	}
	if n := c.svc.e164(tenant, raw); n != "" {
		return n
	}
	return raw
}

// lookupCRM asks the CRM for the caller's card on a goroutine owned by
// the call: ctx is the call's, so the request is cancelled when the call
// ends, and the call waits for the goroutine before it is released. Call
// it from the call's owner goroutine only.
func (c *Call) lookupCRM(ctx context.Context, log *slog.Logger, ev LookupEvent, ext string) {
	crm := c.svc.cfg.CRM
	if crm == nil || c.info.Direction == DirectionInternal {
		return
	}
	c.mu.Lock()
	req := LookupRequest{TenantID: c.info.TenantID, CallID: c.info.ID, From: c.info.From, To: c.info.To,
		Direction: c.info.Direction, Extension: ext, Event: ev}
	c.mu.Unlock()
	req.Number = c.remoteNumber()
	timeout := c.svc.tenant(req.TenantID).LookupTimeout
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		lctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		start := time.Now()
		card, err := crm.Lookup(lctx, req)
		took := time.Since(start)
		switch {
		case ctx.Err() != nil:
			// The call ended first; nobody is waiting for the card.
		case err != nil:
			log.Warn("CRM lookup failed; the phonebook card stays", "event", ev, "took", took, "err", err)
		case card == nil:
			log.Debug("CRM lookup: no match", "event", ev, "took", took)
		default:
			if verr := card.Validate(); verr != nil {
				log.Warn("CRM lookup returned an unusable card; ignored", "event", ev, "err", verr)
				return
			}
			log.Debug("CRM card", "event", ev, "took", took)
			c.SetCard(card)
		}
	}()
}

// screenPopOnAnswer shows the card when the tenant pops on answer: the
// phonebook's at once if the call has no card yet, then the CRM's.
func (c *Call) screenPopOnAnswer(ctx context.Context, log *slog.Logger, ag *agent) {
	if !c.svc.tenant(c.info.TenantID).ScreenPop.onAnswer() {
		return
	}
	c.mu.Lock()
	hasCard := c.info.Card != nil
	c.mu.Unlock()
	if !hasCard {
		if card := c.svc.phonebookCard(ctx, c.info.TenantID, c.remoteNumber()); card != nil {
			c.SetCard(card)
		}
	}
	c.lookupCRM(ctx, log, LookupAnswered, ag.ext)
}
