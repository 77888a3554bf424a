package trunk

import (
	"context"
	"sync"
	"time"

	"github.com/emiago/sipgo"
)

// answerWait bounds how long an aborted dial waits for any response
// before it gives up without CANCEL.
const answerWait = 2 * time.Second

// dialContext wraps the context of an outgoing INVITE. CANCEL may only be
// sent once the far end has answered provisionally (100 included); with no
// response at all, sipgo would wait for the INVITE transaction to time out
// (32 s). So an aborted dial waits briefly for a first response, then
// CANCELs — or, if none comes, gives up at once.
type dialContext struct {
	ctx       context.Context
	cancel    context.CancelCauseFunc
	responded chan struct{}
	once      sync.Once
	abortOnce sync.Once
}

func newDialContext(parent context.Context) *dialContext {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	d := &dialContext{ctx: ctx, cancel: cancel, responded: make(chan struct{})}
	context.AfterFunc(parent, d.abort)
	return d
}

// gotResponse records that the far end has sent something.
func (d *dialContext) gotResponse() { d.once.Do(func() { close(d.responded) }) }

// abort ends the dial: CANCEL once a response has been seen, otherwise
// abandon the INVITE.
func (d *dialContext) abort() {
	d.abortOnce.Do(func() {
		go func() {
			t := time.NewTimer(answerWait)
			defer t.Stop()
			select {
			case <-d.responded:
				d.cancel(context.Canceled)
			case <-t.C:
				d.cancel(sipgo.WaitAnswerForceCancelErr)
			case <-d.ctx.Done():
			}
		}()
	})
}

// done releases the context once the dial is over.
func (d *dialContext) done() { d.cancel(context.Canceled) }
