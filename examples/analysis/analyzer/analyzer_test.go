package analyzer

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/media/g711"
	"github.com/ringbridge/ringbridge/media/wav"
)

// stereo builds a 2 s G.711-quantised stereo WAV: the left channel talks
// throughout, the right keys "7" then "#" and is otherwise silent.
func stereo(t *testing.T) []byte {
	t.Helper()
	const rate = 8000
	var pcm []int16
	for n := range 2 * rate {
		ts := float64(n) / rate
		l := 0.3 * math.Sin(2*math.Pi*440*ts)
		var r float64
		switch ms := n / 8; {
		case ms >= 200 && ms < 320: // '7': 852 + 1209 Hz
			r = 0.25*math.Sin(2*math.Pi*852*ts) + 0.25*math.Sin(2*math.Pi*1209*ts)
		case ms >= 500 && ms < 620: // '#': 941 + 1477 Hz
			r = 0.25*math.Sin(2*math.Pi*941*ts) + 0.25*math.Sin(2*math.Pi*1477*ts)
		}
		q := func(v float64) int16 { return g711.DecodeUlaw(g711.EncodeUlaw(int16(v * 32767))) }
		pcm = append(pcm, q(l), q(r))
	}
	var b bytes.Buffer
	if err := wav.WriteHeader(&b, 2, rate, int64(len(pcm)/2)); err != nil {
		t.Fatal(err)
	}
	for _, s := range pcm {
		b.WriteByte(byte(s))
		b.WriteByte(byte(uint16(s) >> 8))
	}
	return b.Bytes()
}

func TestAnalyzeMeasuresTalkAndDigits(t *testing.T) {
	res, err := Analyze(bytes.NewReader(stereo(t)))
	if err != nil {
		t.Fatal(err)
	}
	if res.DTMF != "7#" || res.Metrics["agentTalkRatio"] < 0.99 {
		t.Fatalf("result %+v", res)
	}
	// 240 ms of digits in 2 s: 12 % talk, give or take a frame per edge.
	if c := res.Metrics["callerTalkRatio"]; c < 0.1 || c > 0.15 {
		t.Fatalf("caller talk ratio %.3f", c)
	}
	if _, err := Analyze(bytes.NewReader([]byte("RIFF not really"))); err == nil {
		t.Fatal("garbage analysed")
	}
}

func sign(secret, id string, ts int64, body []byte) string {
	key, _ := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Requests with a wrong, missing or stale signature are refused before
// anything is fetched; a signed event of another type is accepted and
// ignored.
func TestHandlerChecksSignatures(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	h := Handler(Config{Ringbridge: "http://127.0.0.1:1", APIKey: "k", Secret: secret})
	body := []byte(`{"id":"evt_1","type":"call.ended","data":{}}`)
	now := time.Now().Unix()
	for _, c := range []struct {
		name string
		ts   int64
		sig  string
		want int
	}{
		{"valid", now, sign(secret, "evt_1", now, body), http.StatusNoContent},
		{"forged", now, "v1,AAAA", http.StatusUnauthorized},
		{"missing", now, "", http.StatusUnauthorized},
		{"stale", now - 3600, sign(secret, "evt_1", now-3600, body), http.StatusUnauthorized},
	} {
		req := httptest.NewRequest("POST", "/analyze", bytes.NewReader(body))
		req.Header.Set("webhook-id", "evt_1")
		req.Header.Set("webhook-timestamp", strconv.FormatInt(c.ts, 10))
		req.Header.Set("webhook-signature", c.sig)
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		if rr.Code != c.want {
			t.Fatalf("%s: %d, want %d", c.name, rr.Code, c.want)
		}
	}
}
