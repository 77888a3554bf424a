package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	selfSignedCertName = "ringbridge.crt"
	selfSignedKeyName  = "ringbridge.key"
	selfSignedValidity = 365 * 24 * time.Hour
	// Renew a week ahead so a long-running process restarted near expiry
	// does not serve a certificate that lapses mid-shift.
	selfSignedRenewBefore = 7 * 24 * time.Hour
)

// EnsureSelfSigned returns the paths of a usable certificate and key in dir,
// generating a self-signed ECDSA P-256 pair when none exists, the existing
// pair does not load, or it expires within a week. Browsers refuse WebRTC and
// getUserMedia on plain HTTP except on localhost, so even a LAN demo needs TLS.
//
// An existing self-signed certificate is also replaced when it lacks one of
// hosts, so adding an address to the config takes effect on restart. A
// CA-issued certificate placed in dir is never replaced for that reason.
func EnsureSelfSigned(dir string, hosts []string) (certFile, keyFile string, err error) {
	certFile = filepath.Join(dir, selfSignedCertName)
	keyFile = filepath.Join(dir, selfSignedKeyName)
	dnsNames, ips := tlsSANs(hosts)

	reason := tlsCheckExisting(certFile, keyFile, dnsNames, ips, time.Now())
	if reason == "" {
		return certFile, keyFile, nil
	}

	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", "", fmt.Errorf("tls: create %s: %w", dir, err)
	}
	certPEM, keyPEM, err := tlsGenerateSelfSigned(dnsNames, ips, time.Now())
	if err != nil {
		return "", "", err
	}
	// Key first: if writing the certificate then fails, the mismatched pair
	// fails to load next time and is regenerated rather than trusted.
	if err := tlsWriteFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := tlsWriteFileAtomic(certFile, certPEM, 0o644); err != nil {
		return "", "", err
	}
	slog.Info("generated self-signed TLS certificate", "cert", certFile, "reason", reason,
		"dns", dnsNames, "ips", ips, "valid_for", selfSignedValidity)
	return certFile, keyFile, nil
}

// tlsCheckExisting returns why the pair on disk cannot be reused, or "" if it can.
func tlsCheckExisting(certFile, keyFile string, dnsNames []string, ips []net.IP, now time.Time) string {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "missing"
		}
		return "unusable: " + err.Error()
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return "unparsable: " + err.Error()
		}
	}
	if now.Add(selfSignedRenewBefore).After(leaf.NotAfter) {
		return "expiring " + leaf.NotAfter.UTC().Format(time.RFC3339)
	}
	if !tlsIsSelfSigned(leaf) {
		return ""
	}
	for _, h := range dnsNames {
		if !slices.Contains(leaf.DNSNames, h) {
			return "missing host " + h
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return "missing IP " + ip.String()
		}
	}
	return ""
}

// CheckSignatureFrom would reject our own leaf because it is not a CA, so the
// signature is checked against the certificate's own key directly.
func tlsIsSelfSigned(c *x509.Certificate) bool {
	return string(c.RawIssuer) == string(c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// tlsSANs splits hosts into DNS names and IPs, always including the
// loopback names, with duplicates removed and order kept stable.
func tlsSANs(hosts []string) (dnsNames []string, ips []net.IP) {
	all := append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)
	seen := make(map[string]bool, len(all))
	for _, h := range all {
		// Accept "[::1]" as written in URLs.
		h = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(h), "["), "]")
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if key := ip.String(); !seen[key] {
				seen[key] = true
				ips = append(ips, ip)
			}
			continue
		}
		h = strings.ToLower(h)
		if !seen[h] {
			seen[h] = true
			dnsNames = append(dnsNames, h)
		}
	}
	return dnsNames, ips
}

func tlsGenerateSelfSigned(dnsNames []string, ips []net.IP, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("tls: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "ringbridge self-signed", Organization: []string{"ringbridge"}},
		// Backdated so clients with a slightly slow clock accept it at once.
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: marshal key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// tlsWriteFileAtomic writes via a temp file and rename so a crash never leaves a
// truncated file, and the key is never readable by others even briefly.
func tlsWriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("tls: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("tls: write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("tls: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("tls: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tls: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("tls: write %s: %w", path, err)
	}
	return nil
}
