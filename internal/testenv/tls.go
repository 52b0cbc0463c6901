package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TLSRedis is a redis-server taking TLS connections from clients that
// show a certificate of its CA: its TLS address, the server's name in its
// certificate, and PEM files of the CA and of a client's certificate and
// key.
type TLSRedis struct {
	Addr, ServerName string
	CA, Cert, Key    string
}

// RedisTLS starts a redis-server that also listens for TLS on a free port
// and requires client certificates.
func RedisTLS(t testing.TB) TLSRedis {
	t.Helper()
	dir := t.TempDir()
	caKey, ca := certificate(t, nil, nil, pkix.Name{CommonName: "qgov test CA"}, func(c *x509.Certificate) {
		c.IsCA, c.BasicConstraintsValid, c.KeyUsage = true, true, x509.KeyUsageCertSign
	})
	write := func(name, kind string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	key := func(name string, k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name, "EC PRIVATE KEY", der)
	}
	const serverName = "redis.qgov.test"
	serverKey, server := certificate(t, caKey, ca, pkix.Name{CommonName: serverName}, func(c *x509.Certificate) {
		c.DNSNames, c.IPAddresses = []string{serverName}, []net.IP{net.ParseIP("127.0.0.1")}
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	clientKey, client := certificate(t, caKey, ca, pkix.Name{CommonName: "qgov"}, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	})
	out := TLSRedis{ServerName: serverName, CA: write("ca.pem", "CERTIFICATE", ca.Raw),
		Cert: write("client.pem", "CERTIFICATE", client.Raw), Key: key("client-key.pem", clientKey)}
	port := FreePort(t)
	startRedis(t, "--tls-port", strconv.Itoa(port), "--tls-cert-file", write("server.pem", "CERTIFICATE", server.Raw),
		"--tls-key-file", key("server-key.pem", serverKey), "--tls-ca-cert-file", out.CA, "--tls-auth-clients", "yes")
	out.Addr = "127.0.0.1:" + strconv.Itoa(port)
	return out
}

// certificate makes a key and a certificate for it, signed by parent (or
// by itself), shaped by edit.
func certificate(t testing.TB, parentKey *ecdsa.PrivateKey, parent *x509.Certificate, subject pkix.Name, edit func(*x509.Certificate)) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: subject, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	edit(tmpl)
	if parent == nil {
		parent, parentKey = tmpl, k
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return k, c
}
