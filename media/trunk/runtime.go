package trunk

import (
	"context"
	"fmt"
)

// Trunks change at runtime: administrators add, change and remove them
// (docs/admin.md) and SetTrunks applies the new list to the next INVITE in
// either direction. Calls in progress keep the trunk they started on.

// SetTrunks replaces the trunks. The list is checked whole first, so a
// bad entry changes nothing. Registrations of the old trunks end (with an
// un-REGISTER) and those of the new ones start.
func (t *Trunks) SetTrunks(cfgs []TrunkConfig) error {
	next := make([]*trunk, 0, len(cfgs))
	for _, tc := range cfgs {
		tr, err := parseTrunk(tc)
		if err != nil {
			return err
		}
		next = append(next, tr)
	}
	t.trunkMu.Lock()
	if t.ctx.Err() != nil {
		t.trunkMu.Unlock()
		return fmt.Errorf("sip: trunks changed after close")
	}
	old := t.trunks
	t.trunks = next
	if t.serving {
		t.startRegistrationsLocked(next)
	}
	t.trunkMu.Unlock()
	for _, tr := range old {
		if tr.stopRegister != nil {
			tr.stopRegister()
		}
	}
	t.log.Info("trunks replaced", "trunks", len(next))
	return nil
}

// trunkList is the current list; callers must not modify it.
func (t *Trunks) trunkList() []*trunk {
	t.trunkMu.RLock()
	defer t.trunkMu.RUnlock()
	return t.trunks
}

// startRegistrationsLocked starts a registration loop for each trunk that
// asks for one; each ends with Close or when its trunk is replaced.
// Callers hold trunkMu.
func (t *Trunks) startRegistrationsLocked(trunks []*trunk) {
	for _, tr := range trunks {
		if !tr.Register {
			continue
		}
		ctx, cancel := context.WithCancel(t.ctx)
		tr.stopRegister = cancel
		t.wg.Add(1)
		go t.registerLoop(ctx, tr)
	}
}
