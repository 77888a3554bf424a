package webhook

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{" 0 ", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0, true}, // in the past: now
		{"Sunday, 01-Mar-26 12:00:30 GMT", 30 * time.Second, true},
		{"999999999", maxRetryAfter, true},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), maxRetryAfter, true},
		{"", 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
		{"1.5", 0, false},
	}
	for _, c := range cases {
		got, ok := parseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestRequestLogWindows(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := newRequestLog(RateLimit{PerMinute: 2, PerDay: 3})
	for _, d := range []time.Duration{0, 10 * time.Second} {
		if at := l.nextAllowed(t0.Add(d)); !at.Equal(t0.Add(d)) {
			t.Fatalf("request at +%s held until %s", d, at)
		}
		l.add(t0.Add(d))
	}
	// Two in the minute: the third waits for the first to leave the
	// window (with its margin).
	if at := l.nextAllowed(t0.Add(20 * time.Second)); !at.Equal(t0.Add(minuteWindow)) {
		t.Fatalf("third request at %s, want %s", at, t0.Add(minuteWindow))
	}
	l.add(t0.Add(minuteWindow))
	// Three in the day: the fourth waits for the first to leave the day.
	if at := l.nextAllowed(t0.Add(time.Hour)); !at.Equal(t0.Add(dayWindow)) {
		t.Fatalf("fourth request at %s, want %s", at, t0.Add(dayWindow))
	}
	if len(l.times) != 3 {
		t.Fatalf("log keeps %d times, want 3 (the larger limit)", len(l.times))
	}
	if unlimited := newRequestLog(RateLimit{}); unlimited.limited() {
		t.Fatal("zero limits limit")
	}
}

func TestFieldTree(t *testing.T) {
	var data any
	_ = json.Unmarshal([]byte(`{"call":{"id":"c1","from":"+1","legs":[{"to":"a","x":1},{"to":"b"},{"y":2}]},"n":5,"z":null}`), &data)
	cases := []struct {
		fields []string
		want   string
	}{
		{[]string{"call.id"}, `{"call":{"id":"c1"}}`},
		{[]string{"call.legs.to", "n"}, `{"call":{"legs":[{"to":"a"},{"to":"b"}]},"n":5}`},
		{[]string{"call"}, `{"call":{"from":"+1","id":"c1","legs":[{"to":"a","x":1},{"to":"b"},{"y":2}]}}`},
		{[]string{"call.id.deeper"}, `{}`},
		{[]string{"z"}, `{"z":null}`},
	}
	for _, c := range cases {
		raw, _ := json.Marshal(data)
		got, err := selectData(raw, compileFields(c.fields))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("fields %v: %s, want %s", c.fields, got, c.want)
		}
	}
}

func TestGETQueryLimit(t *testing.T) {
	w := &worker{o: &Outbox{opts: Options{UserAgent: "t"}}}
	w.ep = &Endpoint{Config: Config{URL: "http://crm.test/pop", Method: MethodGET}}
	w.url, _ = url.Parse(w.ep.Config.URL)
	big := strings.Repeat("x", MaxGETURL)
	ev := &StoredEvent{ID: "evt_1", Type: "call.ended", Data: json.RawMessage(`{"notes":"` + big + `"}`)}
	if _, err := w.request([]*StoredEvent{ev}, false); err == nil || !strings.Contains(err.Error(), "select fewer fields or use POST") {
		t.Fatalf("oversized GET: %v", err)
	}
	ev.Data = json.RawMessage(`{"a":[1,true,"s"],"b":{"c":null}}`)
	p, err := w.request([]*StoredEvent{ev}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := "http://crm.test/pop?a.0=1&a.1=true&a.2=s&b.c=&callId=&id=evt_1&tenantId=&timestamp=0001-01-01T00%3A00%3A00Z&type=call.ended"
	if p.url != want || string(p.signed) != strings.SplitN(want, "?", 2)[1] {
		t.Fatalf("GET url\n got %s\nwant %s", p.url, want)
	}
}

func TestRetryDelay(t *testing.T) {
	s := settings{intervals: []time.Duration{time.Second, time.Minute}}
	got := []time.Duration{s.retryDelay(1), s.retryDelay(2), s.retryDelay(3), s.retryDelay(9)}
	want := []time.Duration{time.Second, time.Minute, time.Minute, time.Minute}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("delays %v, want %v (the last interval repeats)", got, want)
	}
}

func TestSecretsAndSignature(t *testing.T) {
	s := NewSecret()
	key, err := secretKey(s)
	if err != nil || len(key) != secretLen {
		t.Fatalf("secret %q: %d bytes, %v", s, len(key), err)
	}
	if NewSecret() == s {
		t.Fatal("two equal secrets")
	}
	// The test vector of the Standard Webhooks specification.
	sg, err := newSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := sg.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	if m := maskSecret(s); !strings.HasPrefix(m, "whsec_…") || len(m) > 15 {
		t.Fatalf("masked %q", m)
	}
}

// The hand-written body equals what encoding/json would produce.
func TestPostBodyMatchesEncodingJSON(t *testing.T) {
	evs := []*StoredEvent{
		{ID: "evt_1", TenantID: "demo", Type: "call.ended", CallID: "call_1",
			Time: time.Date(2026, 3, 1, 12, 0, 0, 5, time.UTC), Data: json.RawMessage(`{"a":[1,2],"b":"x"}`)},
		{ID: `evt_"quoted"\<tag>&`, TenantID: "t\n\u00e9\u2028", Type: "agent.status",
			Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("X", 3600)), Data: json.RawMessage(`{}`)},
	}
	for _, batch := range []bool{false, true} {
		n := 1
		if batch {
			n = 2
		}
		got, err := postBody(evs[:n], nil, batch)
		if err != nil {
			t.Fatal(err)
		}
		envs := make([]envelope, n)
		for i := range n {
			envs[i], _ = newEnvelope(evs[i], nil)
		}
		var want []byte
		if batch {
			want, _ = json.Marshal(envs)
		} else {
			want, _ = json.Marshal(envs[0])
		}
		if string(got) != string(want) {
			t.Errorf("batch=%v\n got %s\nwant %s", batch, got, want)
		}
	}
}
