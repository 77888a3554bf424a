package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

func TestAddrPolicy(t *testing.T) {
	p := webhook.AddrPolicy{}
	for _, a := range []string{"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
		"100.64.0.1", "0.0.0.0", "::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
		"64:ff9b::a00:1", "224.0.0.1", "255.255.255.255", "198.18.0.1"} {
		if p.Allowed(netip.MustParseAddr(a)) {
			t.Errorf("%s allowed by default", a)
		}
	}
	for _, a := range []string{"93.184.215.14", "8.8.8.8", "2606:4700::1111", "2a00:1450:4001::1"} {
		if !p.Allowed(netip.MustParseAddr(a)) {
			t.Errorf("public %s refused", a)
		}
	}
	allow, err := webhook.ParsePrefixes([]string{"10.1.0.0/16", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	p = webhook.AddrPolicy{AllowPrivate: allow}
	for a, want := range map[string]bool{"10.1.2.3": true, "10.2.0.1": false, "127.0.0.1": true, "127.0.0.2": false, "::ffff:10.1.0.9": true} {
		if got := p.Allowed(netip.MustParseAddr(a)); got != want {
			t.Errorf("with allowlist: %s allowed = %v, want %v", a, got, want)
		}
	}
	if _, err := webhook.ParsePrefixes([]string{"10.0.0.0/33"}); err == nil {
		t.Error("bad CIDR accepted")
	}
}

// Creating or updating an endpoint that points inside is a field error on
// "url", for literal addresses, localhost and names resolving inside.
func TestWebhookTargetRefusedAtCreation(t *testing.T) {
	e := newEnv(t)
	dns := fakeDNS{
		"intranet.example.test": {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.0.0.7")},
		"crm.example.test":      {netip.MustParseAddr("93.184.215.14")},
	}
	ob := e.open(func(o *webhook.Options) { o.AllowPrivate, o.Resolver = nil, dns })
	for _, u := range []string{
		"http://127.0.0.1:8080/hook", "http://[::1]/hook", "http://localhost/x", "http://api.localhost/x",
		"https://10.0.0.1/x", "http://169.254.169.254/latest/meta-data", "http://[::ffff:127.0.0.1]/x",
		"http://0.0.0.0:22/", "https://intranet.example.test/hook",
	} {
		_, err := ob.CreateEndpoint(context.Background(), "a", webhook.Config{URL: u, Events: []string{"*"}})
		var ce *cti.Error
		if !errors.As(err, &ce) || ce.Kind != cti.KindInvalid || len(ce.Fields) != 1 || ce.Fields[0].Field != "url" || !strings.Contains(ce.Message, "public") {
			t.Errorf("create %s: %v, want an invalid url field error", u, err)
		}
	}
	ep := create(t, ob, "a", webhook.Config{URL: "https://crm.example.test/hook", Events: []string{"*"}})
	// A name that does not resolve now is accepted; delivery checks again.
	create(t, ob, "a", webhook.Config{URL: "https://not-yet.example.test/hook", Events: []string{"*"}})
	if _, err := ob.UpdateEndpoint(context.Background(), "a", ep.ID, webhook.Config{URL: "http://127.0.0.1/", Events: []string{"*"}}); cti.ErrorKind(err) != cti.KindInvalid {
		t.Fatalf("update to loopback: %v", err)
	}
}

// DNS rebinding: the name resolved to a public address when the endpoint
// was saved and resolves to loopback when delivering. The dial-time check
// refuses the connection, the receiver on loopback never hears from us,
// and the delivery's error names no address or port state.
func TestWebhookDeliveryRefusesRebinding(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{}
	u, err := url.Parse(serve(t, rc)) // listening on 127.0.0.1
	if err != nil {
		t.Fatal(err)
	}
	dns := &rebindingDNS{first: netip.MustParseAddr("93.184.215.14"), then: netip.MustParseAddr("127.0.0.1")}
	ob := e.open(func(o *webhook.Options) { o.AllowPrivate, o.Resolver = nil, dns })
	ep := create(t, ob, "a", webhook.Config{URL: "http://rebind.example.test:" + u.Port() + "/hook", Events: []string{"*"},
		Retry: webhook.Retry{Retries: intp(0)}})
	start(t, ob)
	publish(t, ob, callEvent("a", "call_1", 1, cti.EventCallEnded))
	waitFor(t, 10*time.Second, "parked", func() bool { return counts(t, ob, "a", ep.ID)[webhook.StatusParked] == 1 })
	if n := rc.count(); n != 0 {
		t.Fatalf("the loopback receiver got %d requests", n)
	}
	if dns.lookups() < 2 {
		t.Fatalf("delivery did not resolve the name again (%d lookups)", dns.lookups())
	}
	ds, err := ob.Deliveries(context.Background(), "a", ep.ID, webhook.DeliveryQuery{Status: webhook.StatusParked})
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries %v %v", ds, err)
	}
	if d := ds[0]; d.LastStatusCode != 0 || strings.Contains(d.LastError, "127.0.0.1") || strings.Contains(d.LastError, u.Port()) ||
		!strings.Contains(d.LastError, "not public") {
		t.Fatalf("delivery error %q (code %d)", d.LastError, d.LastStatusCode)
	}
}

// A closed port and a port that accepts and says nothing look alike, and
// an internal server's error page is never shown.
func TestWebhookDeliveryErrorsAreGeneric(t *testing.T) {
	e := newEnv(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String() + "/"
	closed.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() { defer conns.Done(); <-stop; c.Close() }()
		}
	}()
	t.Cleanup(func() { silent.Close(); close(stop); conns.Wait() })
	rc := &receiver{body: "<html>Apache Tomcat/9.0 internal stack trace at db01.corp</html>"}
	rc.setRespond(func(int, *hit, http.ResponseWriter, *http.Request) int { return 500 })
	errorURL := serve(t, rc)

	ob := e.open(func(o *webhook.Options) { o.Limits.MinTimeout = 200 * time.Millisecond })
	reasons := map[string]string{}
	for name, target := range map[string]string{"closed": closedURL, "silent": "http://" + silent.Addr().String() + "/", "error page": errorURL} {
		ep := create(t, ob, "a", webhook.Config{URL: target, Events: []string{"*"}, Timeout: "300ms", Retry: webhook.Retry{Retries: intp(0)}})
		reasons[name] = ep.ID
	}
	start(t, ob)
	publish(t, ob, callEvent("a", "call_1", 1, cti.EventCallEnded))
	got := map[string]string{}
	for name, id := range reasons {
		waitFor(t, 10*time.Second, name+" parked", func() bool { return counts(t, ob, "a", id)[webhook.StatusParked] == 1 })
		ds, err := ob.Deliveries(context.Background(), "a", id, webhook.DeliveryQuery{Status: webhook.StatusParked})
		if err != nil || len(ds) != 1 {
			t.Fatalf("%s: %v %v", name, ds, err)
		}
		got[name] = ds[0].LastError
	}
	if got["closed"] != got["silent"] || got["closed"] == "" {
		t.Errorf("closed port %q vs silent port %q: must read the same", got["closed"], got["silent"])
	}
	if got["error page"] != "HTTP 500" {
		t.Errorf("error page delivery: %q, want only the status", got["error page"])
	}
}

// rebindingDNS answers first on the first lookup and then afterwards.
type rebindingDNS struct {
	first, then netip.Addr
	mu          sync.Mutex
	n           int
}

func (d *rebindingDNS) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	if d.n == 1 {
		return []netip.Addr{d.first}, nil
	}
	return []netip.Addr{d.then}, nil
}

func (d *rebindingDNS) lookups() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}
