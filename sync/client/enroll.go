package client

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"onepass/sync/keyfile"
	"onepass/sync/wire"
)

// Files of the device's identity under the sync directory (<data>/sync), all 0600.
const (
	deviceKeyFile  = "device.key"      // ECDSA P-256, PKCS #8 PEM: made on the device, never leaves it
	deviceCertFile = "device.crt"      // the client certificate the hub issued
	chainFile      = "chain.pem"       // the device CA and the root certificate
	enrollFile     = "enrollment.json" // written last: its presence means "enrolled"
)

// Enrollment is what the device knows about its enrollment.
type Enrollment struct {
	Hub        string        `json:"hub"`
	Device     string        `json:"device"`
	Hall       string        `json:"hall"`
	Lanes      int           `json:"lanes"`
	EnrolledAt time.Time     `json:"enrolled_at"`
	Root       []byte        `json:"root"` // the pinned root key (SubjectPublicKeyInfo DER)
	KeyCert    wire.Envelope `json:"key_cert"`
}

// ErrNotEnrolled is returned by LoadEnrollment and New when the device has no enrollment.
var ErrNotEnrolled = errors.New("sync: this device is not enrolled: run `onepassctl enroll --hub URL --token T`")

// LoadEnrollment reads the enrollment in dir.
func LoadEnrollment(dir string) (Enrollment, error) {
	b, err := os.ReadFile(filepath.Join(dir, enrollFile))
	if errors.Is(err, os.ErrNotExist) {
		return Enrollment{}, ErrNotEnrolled
	}
	if err != nil {
		return Enrollment{}, fmt.Errorf("sync: enrollment: %w", err)
	}
	var e Enrollment
	if err := json.Unmarshal(b, &e); err != nil {
		return Enrollment{}, fmt.Errorf("sync: enrollment %s: %w", filepath.Join(dir, enrollFile), err)
	}
	return e, nil
}

// Enroll makes the device's key pair in dir, redeems the one-time token at the hub for a client
// certificate, checks everything the hub sent against the pinned root key and stores the
// identity (0600). The hub's TLS certificate must chain to the pinned root. A previous
// enrollment in dir is replaced only once the new one succeeded.
func Enroll(ctx context.Context, hubURL, token, dir string, root []byte) (Enrollment, error) {
	base, err := baseURL(hubURL)
	if err != nil {
		return Enrollment{}, err
	}
	if strings.TrimSpace(token) == "" {
		return Enrollment{}, errors.New("sync: enroll: empty token")
	}
	verifier, err := wire.NewVerifier(root)
	if err != nil {
		return Enrollment{}, fmt.Errorf("sync: enroll: pinned root: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Enrollment{}, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "onepass kiosk"}}, key)
	if err != nil {
		return Enrollment{}, fmt.Errorf("sync: enroll: certificate request: %w", err)
	}
	body, _ := json.Marshal(wire.EnrollRequest{V: wire.Major, Token: strings.TrimSpace(token), CSR: csr})
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: pinnedTLS(base, root, nil, nil)}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+wire.PathEnroll, bytes.NewReader(body))
	if err != nil {
		return Enrollment{}, fmt.Errorf("sync: enroll: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(wire.ProtocolHeader, fmt.Sprint(wire.Major))
	resp, err := hc.Do(req)
	if err != nil {
		return Enrollment{}, fmt.Errorf("sync: enroll at %s: %w", base, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Enrollment{}, fmt.Errorf("sync: enroll: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Enrollment{}, fmt.Errorf("sync: enroll refused: %s", errorText(resp.StatusCode, rb))
	}
	var er wire.EnrollResponse
	if err := json.Unmarshal(rb, &er); err != nil {
		return Enrollment{}, fmt.Errorf("sync: enroll: answer is not JSON: %w", err)
	}
	if er.V != wire.Major {
		return Enrollment{}, fmt.Errorf("sync: enroll: %w %d", wire.ErrVersion, er.V)
	}
	cert, chain, err := checkIssued(er, key, root)
	if err != nil {
		return Enrollment{}, fmt.Errorf("sync: enroll: %w", err)
	}
	if _, err := verifier.KeyCert(&er.KeyCert); err != nil {
		return Enrollment{}, fmt.Errorf("sync: enroll: hub key certificate: %w", err)
	}
	keyPEM, err := keyfile.PEMKey(key)
	if err != nil {
		return Enrollment{}, fmt.Errorf("sync: enroll: %w", err)
	}
	e := Enrollment{Hub: base, Device: er.Device, Hall: er.Hall, Lanes: er.Lanes, EnrolledAt: time.Now().UTC(), Root: root, KeyCert: er.KeyCert}
	ej, _ := json.MarshalIndent(e, "", "  ")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Enrollment{}, fmt.Errorf("sync: enroll: %w", err)
	}
	var chainPEM []byte
	for _, c := range chain {
		chainPEM = append(chainPEM, keyfile.PEMCert(c.Raw)...)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{deviceKeyFile, keyPEM},
		{deviceCertFile, keyfile.PEMCert(cert.Raw)},
		{chainFile, chainPEM},
		{enrollFile, ej},
	} {
		if err := keyfile.Write(filepath.Join(dir, f.name), f.data); err != nil {
			return Enrollment{}, fmt.Errorf("sync: enroll: %w", err)
		}
	}
	return e, nil
}

// checkIssued verifies the enrollment answer: the certificate is for our key, for client
// authentication, and chains through the given CA to a root certificate with the pinned key.
func checkIssued(er wire.EnrollResponse, key *ecdsa.PrivateKey, root []byte) (*x509.Certificate, []*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(er.Certificate)
	if err != nil {
		return nil, nil, fmt.Errorf("device certificate: %w", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, errors.New("the hub issued a certificate for another key")
	}
	if cert.Subject.CommonName != er.Device {
		return nil, nil, fmt.Errorf("certificate names device %q, answer names %q", cert.Subject.CommonName, er.Device)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	var chain []*x509.Certificate
	for _, der := range er.Chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, fmt.Errorf("chain: %w", err)
		}
		chain = append(chain, c)
		if bytes.Equal(c.RawSubjectPublicKeyInfo, root) {
			roots.AddCert(c)
		} else {
			inter.AddCert(c)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, nil, fmt.Errorf("device certificate does not chain to the pinned root: %w", err)
	}
	return cert, chain, nil
}

// pinnedTLS trusts exactly the hub certificates that chain to a certificate carrying the pinned
// root key, with the host name checked as usual. Root certificates come from the handshake (the
// hub sends its chain up to the root) or from the stored chain.
func pinnedTLS(base string, root []byte, stored []*x509.Certificate, client *tls.Certificate) *tls.Config {
	host := base
	if u, err := url.Parse(base); err == nil {
		host = u.Hostname()
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The standard verification would need the root in the system pool; VerifyConnection
		// does the same checks against the pinned key instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("hub presented no certificate")
			}
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			found := false
			for _, c := range append(append([]*x509.Certificate(nil), cs.PeerCertificates[1:]...), stored...) {
				if bytes.Equal(c.RawSubjectPublicKeyInfo, root) {
					roots.AddCert(c)
					found = true
				} else {
					inter.AddCert(c)
				}
			}
			if !found {
				return errors.New("hub certificate does not chain to the pinned root key ([trust] root)")
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
			if err != nil {
				return fmt.Errorf("hub certificate: %w", err)
			}
			return nil
		},
	}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	return cfg
}

func baseURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("sync: hub URL %q: want https://host[:port]", s)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("sync: hub URL %q: only https is allowed (mutual TLS)", s)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil && !strings.Contains(err.Error(), "missing port") {
		return "", fmt.Errorf("sync: hub URL %q: %w", s, err)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// errorText turns an error response into one line.
func errorText(code int, body []byte) string {
	var e wire.Error
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Sprintf("%d %s", code, e.Error)
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return fmt.Sprintf("%d %s %s", code, http.StatusText(code), s)
}

// deviceIdentity is the loaded device identity.
type deviceIdentity struct {
	Enrollment
	key   *ecdsa.PrivateKey
	cert  tls.Certificate
	leaf  *x509.Certificate
	chain []*x509.Certificate
}

func loadIdentity(dir string) (*deviceIdentity, error) {
	e, err := LoadEnrollment(dir)
	if err != nil {
		return nil, err
	}
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("sync: identity: %w", err)
		}
		return b, nil
	}
	kp, err := read(deviceKeyFile)
	if err != nil {
		return nil, err
	}
	cp, err := read(deviceCertFile)
	if err != nil {
		return nil, err
	}
	chp, err := read(chainFile)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(cp, kp)
	if err != nil {
		return nil, fmt.Errorf("sync: identity: %w", err)
	}
	key, ok := cert.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("sync: identity: device key is not ECDSA")
	}
	id := &deviceIdentity{Enrollment: e, key: key, cert: cert, leaf: cert.Leaf}
	for rest := chp; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("sync: identity: chain: %w", err)
		}
		id.chain = append(id.chain, c)
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	id.cert = cert
	if id.leaf == nil {
		if id.leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("sync: identity: %w", err)
		}
	}
	return id, nil
}
