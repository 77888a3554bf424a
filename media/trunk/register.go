package trunk

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// registerLoop keeps a registration alive with the trunk's registrar,
// refreshing at half the granted expiry and retrying with backoff.
func (t *Trunks) registerLoop(ctx context.Context, tr *trunk) {
	defer t.wg.Done()
	log := t.log.With("trunk", tr.Name)
	backoff := time.Second
	for {
		expiry, err := t.register(ctx, tr, tr.RegisterExpiry)
		wait := expiry / 2
		if err != nil {
			log.Warn("REGISTER failed", "err", err, "retry_in", backoff)
			wait = backoff
			backoff = min(backoff*2, 5*time.Minute)
		} else {
			log.Info("registered", "expires", expiry)
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			// Best effort: tell the registrar we are gone.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, _ = t.register(ctx, tr, 0)
			cancel()
			return
		case <-time.After(wait):
		}
	}
}

// register sends one REGISTER (answering a digest challenge) and returns
// the expiry the registrar granted.
func (t *Trunks) register(ctx context.Context, tr *trunk, expiry time.Duration) (time.Duration, error) {
	user := tr.Username
	if user == "" {
		user = "ringbridge"
	}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: tr.host, Port: tr.port})
	req.SetTransport(transportName(tr.Transport))
	aor := sip.Uri{Scheme: "sip", User: user, Host: tr.Domain}
	req.AppendHeader(&sip.FromHeader{Address: aor, Params: tagParams()})
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	contact := t.contact
	contact.Address.User = user
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expiry.Seconds()))))
	t.identify(req)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	client := t.clients.client(tr.Transport)
	res, err := client.Do(ctx, req, sipgo.ClientRequestRegisterBuild)
	if err != nil {
		return 0, err
	}
	if res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired {
		res, err = client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: tr.Username, Password: tr.Password})
		if err != nil {
			return 0, err
		}
	}
	if !res.IsSuccess() {
		return 0, fmt.Errorf("registrar answered %d %s", res.StatusCode, res.Reason)
	}
	granted := expiry
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(h.Value()); err == nil && n > 0 {
			granted = time.Duration(n) * time.Second
		}
	}
	if granted < 10*time.Second {
		granted = 10 * time.Second
	}
	return granted, nil
}

func tagParams() sip.HeaderParams {
	p := sip.NewParams()
	p.Add("tag", sip.GenerateTagN(16))
	return p
}

// onInfo accepts SIP INFO application/dtmf-relay digits, the fallback some
// trunks use instead of RFC 4733.
func (t *Trunks) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	l := t.legFor(req)
	if l == nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	if d, ok := parseDTMFRelay(string(req.Body())); ok {
		l.media.Reader.EmitDTMF(d)
	}
	respond(tx, req, sip.StatusOK, "OK")
}
