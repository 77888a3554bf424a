package server

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"time"

	"github.com/ringbridge/ringbridge/server/wsproto"
)

// TURN credentials per session, in the shared-secret scheme coturn
// implements (use-auth-secret, "TURN REST API"): the username is the
// expiry time (Unix seconds) and the user's id, the password the base64
// HMAC-SHA1 of the username under the secret both sides know. A leaked
// credential stops working when it expires; no per-user state on either
// side.

// TURNConfig hands browsers a TURN server with fresh credentials.
type TURNConfig struct {
	// URLs of the TURN server ("turn:turn.example.com:3478?transport=udp",
	// "turns:turn.example.com:5349?transport=tcp").
	URLs []string
	// Secret is coturn's static-auth-secret.
	Secret string
	// TTL is how long a credential lasts. Default 12h.
	TTL time.Duration
}

// iceServersFor returns the configured ICE servers plus, with a TURN
// secret, the TURN server with credentials for user, valid from now.
func (s *Server) iceServersFor(userID string, now time.Time) []wsproto.ICEServer {
	out := append([]wsproto.ICEServer{}, s.cfg.ICEServers...)
	t := s.cfg.TURN
	if t.Secret == "" || len(t.URLs) == 0 {
		return out
	}
	ttl := t.TTL
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	user, pass := turnCredential(t.Secret, userID, now.Add(ttl))
	return append(out, wsproto.ICEServer{URLs: append([]string{}, t.URLs...), Username: user, Credential: pass})
}

// turnCredential is coturn's REST-API credential for user until expiry.
func turnCredential(secret, user string, expiry time.Time) (username, password string) {
	username = strconv.FormatInt(expiry.Unix(), 10) + ":" + user
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
