package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func readPair(t *testing.T, certFile, keyFile string) (cert, key []byte) {
	t.Helper()
	cert, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err = os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func loadLeaf(t *testing.T, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatalf("LoadX509KeyPair: %v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func TestTLSEnsureSelfSignedGeneratesAndReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	hosts := []string{"pbx.example.test", "192.168.1.20", "[fd00::1]", "LOCALHOST", ""}
	certFile, keyFile, err := EnsureSelfSigned(dir, hosts)
	if err != nil {
		t.Fatalf("EnsureSelfSigned: %v", err)
	}
	if filepath.Base(certFile) != "ringbridge.crt" || filepath.Base(keyFile) != "ringbridge.key" {
		t.Fatalf("paths = %s, %s", certFile, keyFile)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key perms = %v, %v", fi.Mode().Perm(), err)
	}

	leaf := loadLeaf(t, certFile, keyFile)
	if want := []string{"localhost", "pbx.example.test"}; !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNSNames = %v, want %v", leaf.DNSNames, want)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"127.0.0.1", "::1", "192.168.1.20", "fd00::1"}; !slices.Equal(ips, want) {
		t.Errorf("IPAddresses = %v, want %v", ips, want)
	}
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("key type %T, want ECDSA", leaf.PublicKey)
	}
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		t.Errorf("ExtKeyUsage = %v, want serverAuth", leaf.ExtKeyUsage)
	}
	if d := time.Until(leaf.NotAfter); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("validity ends in %v, want about a year", d)
	}
	for _, h := range []string{"localhost", "pbx.example.test", "192.168.1.20", "::1"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("VerifyHostname(%s): %v", h, err)
		}
	}

	cert1, key1 := readPair(t, certFile, keyFile)
	if _, _, err := EnsureSelfSigned(dir, hosts); err != nil {
		t.Fatal(err)
	}
	cert2, key2 := readPair(t, certFile, keyFile)
	if !bytes.Equal(cert1, cert2) || !bytes.Equal(key1, key2) {
		t.Fatal("second call regenerated a valid pair")
	}

	// A subset of hosts is still covered: no churn.
	if _, _, err := EnsureSelfSigned(dir, nil); err != nil {
		t.Fatal(err)
	}
	if cert3, _ := readPair(t, certFile, keyFile); !bytes.Equal(cert1, cert3) {
		t.Fatal("regenerated although all hosts were covered")
	}
	// A new host is not: regenerate.
	if _, _, err := EnsureSelfSigned(dir, append(hosts, "10.0.0.9")); err != nil {
		t.Fatal(err)
	}
	if err := loadLeaf(t, certFile, keyFile).VerifyHostname("10.0.0.9"); err != nil {
		t.Fatalf("new host missing after regeneration: %v", err)
	}
}

func TestTLSEnsureSelfSignedReplacesGarbage(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, err := EnsureSelfSigned(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureSelfSigned(dir, nil); err != nil {
		t.Fatalf("EnsureSelfSigned over garbage: %v", err)
	}
	loadLeaf(t, certFile, keyFile)

	// Only the key missing counts as broken too.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureSelfSigned(dir, nil); err != nil {
		t.Fatal(err)
	}
	loadLeaf(t, certFile, keyFile)
}

func TestTLSEnsureSelfSignedRenewsExpiring(t *testing.T) {
	dir := t.TempDir()
	dns, ips := tlsSANs(nil)
	// Generated 360 days ago, so it lapses in five days: inside the window.
	certPEM, keyPEM, err := tlsGenerateSelfSigned(dns, ips, time.Now().Add(-360*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	writeTestPair(t, dir, certPEM, keyPEM)
	certFile, keyFile, err := EnsureSelfSigned(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(loadLeaf(t, certFile, keyFile).NotAfter); d < 300*24*time.Hour {
		t.Fatalf("expiring certificate kept (expires in %v)", d)
	}
}

func TestTLSEnsureSelfSignedKeepsCAIssuedCert(t *testing.T) {
	// An operator-provided certificate lacking a requested host must not be
	// silently replaced by a self-signed one.
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour * 30),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "pbx"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour * 30),
		DNSNames: []string{"pbx.example.test"}, IPAddresses: []net.IP{net.IPv4(10, 1, 1, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, leafTmpl, caTmpl, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	writeTestPair(t, dir, certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))

	certFile, _, err := EnsureSelfSigned(dir, []string{"other.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(certFile); !bytes.Equal(got, certPEM) {
		t.Fatal("CA-issued certificate was replaced")
	}
}

func writeTestPair(t *testing.T, dir string, certPEM, keyPEM []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "ringbridge.crt"), certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ringbridge.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}
