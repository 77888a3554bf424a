package server

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/server/wsproto"
)

// With a TURN secret, each session's welcome carries the TURN server with
// a credential coturn accepts: "<expiry>:<user id>" and the base64
// HMAC-SHA1 of it under the shared secret, expiring after the TTL.
func TestWelcomeCarriesTURNCredentials(t *testing.T) {
	const secret = "coturn-static-auth-secret"
	e := newEnv(t, func(c *Config) {
		c.TURN = TURNConfig{URLs: []string{"turn:turn.example.test:3478?transport=udp"}, Secret: secret, TTL: time.Hour}
	})
	e.listen()
	_, w := e.connectAgent("alice")
	var turn *wsproto.ICEServer
	for i := range w.ICEServers {
		if strings.HasPrefix(w.ICEServers[i].URLs[0], "turn:") {
			turn = &w.ICEServers[i]
		}
	}
	if turn == nil || len(w.ICEServers) != 2 {
		t.Fatalf("ice servers %+v", w.ICEServers)
	}
	expiry, user, ok := strings.Cut(turn.Username, ":")
	exp, err := strconv.ParseInt(expiry, 10, 64)
	if !ok || err != nil || user != w.UserID {
		t.Fatalf("username %q", turn.Username)
	}
	if left := time.Until(time.Unix(exp, 0)); left < 59*time.Minute || left > time.Hour+time.Second {
		t.Fatalf("credential valid for %v, want an hour", left)
	}
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(turn.Username))
	if turn.Credential != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		t.Fatalf("credential %q is not coturn's HMAC of the username", turn.Credential)
	}
}
