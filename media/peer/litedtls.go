package peer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/transport/v4/deadline"
)

// dtlsWait bounds a handshake; dtlsLinger is how long a passive side
// keeps its DTLS state after the handshake when no SRTP proves that the
// browser has our last flight.
const (
	dtlsWait   = 30 * time.Second
	dtlsLinger = 30 * time.Second
)

// liteCert is the DTLS certificate of every session, with its SHA-256
// fingerprint for the answers. Browsers pin the fingerprint per session
// from the SDP, so one key for all sessions costs nothing in security and
// saves a key generation per sign-in.
type liteCert struct {
	tls     tls.Certificate
	fp      string
	expires time.Time
}

// liteCertLife is how long a certificate is valid; it is replaced
// certRenewal before it expires (sessions keep the one they started with).
const liteCertLife = 30 * 24 * time.Hour

func newLiteCert() (*liteCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dtls key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("dtls serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "ringbridge"},
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.Add(liteCertLife),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("dtls certificate: %w", err)
	}
	return &liteCert{
		tls:     tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		fp:      fingerprint(crypto.SHA256, der),
		expires: tmpl.NotAfter,
	}, nil
}

// fingerprint is an SDP fingerprint value: upper-case hex pairs with colons.
func fingerprint(h crypto.Hash, der []byte) string {
	d := h.New()
	d.Write(der)
	sum := hex.EncodeToString(d.Sum(nil))
	var b strings.Builder
	for i := 0; i < len(sum); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(sum[i : i+2]))
	}
	return b.String()
}

var fingerprintHashes = map[string]crypto.Hash{
	"sha-1": crypto.SHA1, "sha-224": crypto.SHA224, "sha-256": crypto.SHA256,
	"sha-384": crypto.SHA384, "sha-512": crypto.SHA512,
}

var errFingerprint = errors.New("the browser's DTLS certificate does not match its SDP fingerprint")

// verifyFingerprint accepts the peer's certificate only when it hashes to
// the fingerprint of its offer: that binds the DTLS keys to the
// authenticated signalling channel.
func verifyFingerprint(alg, want string) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		h, ok := fingerprintHashes[alg]
		if !ok || len(raw) == 0 || !h.Available() {
			return errFingerprint
		}
		if !strings.EqualFold(fingerprint(h, raw[0]), want) {
			return errFingerprint
		}
		return nil
	}
}

// srtpKeys are a session's SRTP contexts once DTLS has agreed them.
// enc is used under the endpoint's encMu, dec under its rxMu.
type srtpKeys struct {
	enc, dec *srtp.Context
}

var srtpProfiles = map[dtls.SRTPProtectionProfile]srtp.ProtectionProfile{
	dtls.SRTP_AEAD_AES_256_GCM:       srtp.ProtectionProfileAeadAes256Gcm,
	dtls.SRTP_AEAD_AES_128_GCM:       srtp.ProtectionProfileAeadAes128Gcm,
	dtls.SRTP_AES128_CM_HMAC_SHA1_80: srtp.ProtectionProfileAes128CmHmacSha1_80,
}

// handshake runs one DTLS handshake over the session's paths and derives
// the SRTP keys (RFC 5764). It is the only goroutine a session has, and
// only until the handshake is over: then the DTLS state is dropped
// without a close_notify, which the browser would take for the end of
// the transport. An active side (DTLS client) is done when its handshake
// is: the browser sent the last flight. A passive side keeps answering
// retransmissions until SRTP from the browser shows it has our last
// flight, or dtlsLinger passes.
func (e *liteEndpoint) handshake(sh *dtlsShim, client bool, cert *liteCert, fpAlg, fp string) {
	defer e.wg.Done()
	defer sh.Close()
	opts := []dtls.Option{
		dtls.WithCertificates(cert.tls),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_256_GCM, dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithExtendedMasterSecret(dtls.RequestExtendedMasterSecret),
		dtls.WithInsecureSkipVerify(true),
		dtls.WithVerifyPeerCertificate(verifyFingerprint(fpAlg, fp)),
		dtls.WithLoggerFactory(slogFactory{e.log}),
	}
	var conn *dtls.Conn
	var err error
	if client {
		copts := make([]dtls.ClientOption, 0, len(opts))
		for _, o := range opts {
			copts = append(copts, o)
		}
		conn, err = dtls.ClientWithOptions(sh, sh.RemoteAddr(), copts...)
	} else {
		sopts := make([]dtls.ServerOption, 0, len(opts)+1)
		for _, o := range opts {
			sopts = append(sopts, o)
		}
		sopts = append(sopts, dtls.WithClientAuth(dtls.RequireAnyClientCert))
		conn, err = dtls.ServerWithOptions(sh, sh.RemoteAddr(), sopts...)
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(e.ctx, dtlsWait)
		err = conn.HandshakeContext(ctx)
		cancel()
	}
	var keys *srtpKeys
	if err == nil {
		keys, err = srtpFromDTLS(conn, client)
	}
	if err != nil {
		if conn != nil {
			sh.detach()
			_ = conn.Close()
		}
		if e.ctx.Err() == nil {
			e.log.Warn("agent DTLS handshake failed", "session", e.id, "err", err)
			e.setState(stateFailed)
		}
		e.handshakeOver()
		return
	}
	e.keys.Store(keys)
	e.setState(stateConnected)
	if !client {
		e.lingering.Store(sh)
		t := time.NewTimer(dtlsLinger)
		select {
		case <-sh.seen:
		case <-t.C:
		case <-e.ctx.Done():
		}
		t.Stop()
		e.lingering.CompareAndSwap(sh, nil)
	}
	sh.detach()
	_ = conn.Close()
	e.handshakeOver()
}

func srtpFromDTLS(conn *dtls.Conn, client bool) (*srtpKeys, error) {
	dp, ok := conn.SelectedSRTPProtectionProfile()
	if !ok {
		return nil, errors.New("no SRTP profile agreed")
	}
	profile, ok := srtpProfiles[dp]
	if !ok {
		return nil, fmt.Errorf("SRTP profile %#x not offered", uint16(dp))
	}
	state, ok := conn.ConnectionState()
	if !ok {
		return nil, errors.New("no DTLS state")
	}
	cfg := srtp.Config{Profile: profile}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, client); err != nil {
		return nil, fmt.Errorf("srtp keys: %w", err)
	}
	enc, err := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, profile)
	if err != nil {
		return nil, fmt.Errorf("srtp context: %w", err)
	}
	dec, err := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, profile,
		srtp.SRTPReplayProtection(64), srtp.SRTCPReplayProtection(64))
	if err != nil {
		return nil, fmt.Errorf("srtp context: %w", err)
	}
	return &srtpKeys{enc: enc, dec: dec}, nil
}

// dtlsShim is the packet connection a DTLS handshake runs over: reads
// come from the socket's read loop (the session's DTLS datagrams), writes
// go to the session's current path. Once detached it swallows writes, so
// that closing the DTLS state sends nothing.
type dtlsShim struct {
	ep       *liteEndpoint
	in       chan []byte
	done     chan struct{}
	once     sync.Once
	readDL   *deadline.Deadline
	detached atomic.Bool
	// seen is closed at the browser's first SRTP after this handshake.
	seen     chan struct{}
	seenOnce sync.Once
}

func (s *dtlsShim) sawSRTP() { s.seenOnce.Do(func() { close(s.seen) }) }

func newDTLSShim(ep *liteEndpoint) *dtlsShim {
	return &dtlsShim{ep: ep, in: make(chan []byte, 16), done: make(chan struct{}), readDL: deadline.New(), seen: make(chan struct{})}
}

// deliver queues one DTLS datagram; a full queue drops it (DTLS
// retransmits).
func (s *dtlsShim) deliver(b []byte) {
	select {
	case s.in <- append([]byte(nil), b...):
	default:
	}
}

func (s *dtlsShim) detach() { s.detached.Store(true) }

// RemoteAddr is the session's current path as a net.Addr (DTLS only
// names it back to us).
func (s *dtlsShim) RemoteAddr() net.Addr {
	if p := s.ep.path.Load(); p != nil {
		return net.UDPAddrFromAddrPort(p.addr)
	}
	return &net.UDPAddr{}
}

func (s *dtlsShim) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case b := <-s.in:
		return copy(p, b), s.RemoteAddr(), nil
	case <-s.done:
		return 0, nil, net.ErrClosed
	case <-s.readDL.Done():
		return 0, nil, os.ErrDeadlineExceeded
	}
}

func (s *dtlsShim) WriteTo(p []byte, _ net.Addr) (int, error) {
	if s.detached.Load() {
		return len(p), nil
	}
	path := s.ep.path.Load()
	if path == nil {
		return len(p), nil // no path yet: as if lost, DTLS retransmits
	}
	if err := s.ep.net.send(path, p, nil, nil); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *dtlsShim) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}

func (s *dtlsShim) LocalAddr() net.Addr                { return &net.UDPAddr{} }
func (s *dtlsShim) SetDeadline(t time.Time) error      { s.readDL.Set(t); return nil }
func (s *dtlsShim) SetReadDeadline(t time.Time) error  { s.readDL.Set(t); return nil }
func (s *dtlsShim) SetWriteDeadline(_ time.Time) error { return nil }
