package cti

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/ringbridge/ringbridge/cti/ivr"
)

// An IVR flow's CRM node asks the tenant's CRM (the cti.CRM port, with
// the tenant's configured connection and credentials) with the call's
// data and the flow's variables, and branches on the answer. The call's
// owner goroutine never waits for the CRM: the query runs on a goroutine
// the call owns (c.bg), bounded by the node's timeout and by the call's
// context, and its result comes back as an input (inIVRAnswer) like the
// IVR timers. A call that ends meanwhile cancels the query; its result,
// if any, lands in a buffered channel nobody reads and is dropped.

// ivrDefaultCRMTimeout is how long a CRM node waits when it sets no
// timeoutSeconds.
const ivrDefaultCRMTimeout = 3 * time.Second

// ivrQueryResult is a CRM node's answer, tagged with the query it answers.
type ivrQueryResult struct {
	seq    int
	answer IVRAnswer
	err    error
	took   time.Duration
}

// ivrQuery starts the node's query and waits for its result as an input.
// Without a CRM the node takes onTimeout at once (next is returned).
func (c *Call) ivrQuery(n *ivr.Node) (next string, wait bool) {
	r := c.ivr
	crm := c.svc.cfg.CRM
	if crm == nil {
		c.log.Info("IVR CRM node without a CRM; taking onTimeout", "node", n.ID)
		return n.OnTimeout, false
	}
	timeout := ivrDefaultCRMTimeout
	if n.TimeoutSeconds > 0 {
		timeout = time.Duration(n.TimeoutSeconds) * time.Second
	}
	q := IVRQuery{TenantID: c.info.TenantID, CallID: c.ID(), From: c.remoteNumber(), To: c.info.To,
		Direction: c.info.Direction, Flow: r.flow.ID, Node: n.ID, Vars: maps.Clone(r.vars)}
	if q.Vars == nil {
		q.Vars = map[string]string{}
	}
	r.seq++
	seq := r.seq
	// One slot: the owner reads at most one result per query, and a
	// result nobody reads (the call ended) must not block the goroutine.
	ch := make(chan ivrQueryResult, 1)
	r.answers = ch
	ctx := c.ctx
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		qctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		start := time.Now()
		res := ivrQueryResult{seq: seq}
		defer func() {
			// A panicking CRM adapter fails this query, not the process.
			if p := recover(); p != nil {
				res.err = fmt.Errorf("crm query panicked: %v", p)
			}
			res.took = time.Since(start)
			ch <- res
		}()
		res.answer, res.err = crm.Query(qctx, q)
	}()
	return "", true
}

// ivrAnswer: a CRM node's query came back. The answer's tag and vars are
// set, then its branch is taken (an unknown branch goes to next, or to
// onTimeout when the node has no next); a failure or timeout goes to
// onTimeout.
func (c *Call) ivrAnswer(ev *callEvent) EndReason {
	r := c.ivr
	res := ev.answer
	if r == nil || r.node == nil || r.node.Kind != ivr.CRMQuery || res.seq != r.seq {
		return EndNone // a stale answer: the flow moved on
	}
	r.answers = nil
	n := r.node
	if res.err != nil {
		c.log.Warn("IVR CRM query failed; taking onTimeout", "node", n.ID, "took", res.took, "err", res.err)
		return c.ivrGo(n.OnTimeout)
	}
	a := res.answer
	for k, v := range a.Vars {
		r.vars[k] = v
	}
	if a.Tag != "" {
		r.vars["tag"] = a.Tag
	}
	to, ok := n.Answers[a.Branch]
	switch {
	case ok:
	case n.Next != "":
		to = n.Next
	default:
		c.log.Info("IVR CRM answer names no branch of the node; taking onTimeout", "node", n.ID, "branch", a.Branch)
		to = n.OnTimeout
	}
	c.log.Debug("IVR CRM answer", "node", n.ID, "branch", a.Branch, "took", res.took)
	return c.ivrGo(to)
}
