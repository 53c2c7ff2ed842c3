package hub

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"onepass/identity"
	"onepass/sync/keyfile"
	"onepass/sync/wire"
)

// Key files under <data>/keys. Everything secret is written 0600.
const (
	rootKeyFile     = "root.key"  // Ed25519, PKCS #8 PEM: signs the trust list and the batch key certificate
	rootCertFile    = "root.crt"  // self-signed; its SubjectPublicKeyInfo is what kiosks pin
	caKeyFile       = "ca.key"    // ECDSA P-256: the device CA, issues client and server certificates
	caCertFile      = "ca.crt"    //
	tlsKeyFile      = "tls.key"   // the hub's TLS server key
	tlsCertFile     = "tls.crt"   //
	batchKeyFile    = "batch.key" // Ed25519: signs every body the hub serves
	batchCertFile   = "batch.json"
	platformKeyFile = "platform.key" // X25519: opens sealed ID numbers
	platformPubFile = "platform.pub"
)

// InitOptions are the choices made when the hub's keys are created.
type InitOptions struct {
	// Hosts are the DNS names and IP addresses kiosks use to reach the hub (the TLS certificate's
	// subject alternative names). Default: localhost, 127.0.0.1, ::1.
	Hosts []string
	// Validity of the root and CA certificates; default 10 years.
	Validity time.Duration
}

// ErrInitialized is returned by Init when the data directory already holds keys.
var ErrInitialized = errors.New("hub: keys already exist")

// Init creates the hub's data directory, its keys (root, device CA, TLS server, batch signing,
// platform sealing) and the first deployment key. It refuses to overwrite existing keys.
func Init(dir string, o InitOptions) error {
	kd := filepath.Join(dir, "keys")
	if _, err := os.Stat(filepath.Join(kd, rootKeyFile)); err == nil {
		return fmt.Errorf("%w in %s", ErrInitialized, kd)
	}
	if err := os.MkdirAll(kd, 0o700); err != nil {
		return fmt.Errorf("hub: init: %w", err)
	}
	if len(o.Hosts) == 0 {
		o.Hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	if o.Validity <= 0 {
		o.Validity = 10 * 365 * 24 * time.Hour
	}
	now := time.Now().Add(-5 * time.Minute) // tolerate clocks slightly behind

	_, rootKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	rootName := pkix.Name{CommonName: "onepass root", Organization: []string{"onepass"}}
	rootDER, rootCert, err := createCert(certTemplate(roleRoot, rootName, now, now.Add(o.Validity)), nil, rootKey.Public(), rootKey)
	if err != nil {
		return fmt.Errorf("hub: root certificate: %w", err)
	}

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caName := pkix.Name{CommonName: "onepass device CA", Organization: []string{"onepass"}}
	caDER, caCert, err := createCert(certTemplate(roleCA, caName, now, now.Add(o.Validity)), rootCert, caKey.Public(), rootKey)
	if err != nil {
		return fmt.Errorf("hub: CA certificate: %w", err)
	}

	tlsKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tlsTmpl := certTemplate(roleServer, pkix.Name{CommonName: "onepass hub"}, now, now.Add(o.Validity/5))
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tlsTmpl.IPAddresses = append(tlsTmpl.IPAddresses, ip)
		} else {
			tlsTmpl.DNSNames = append(tlsTmpl.DNSNames, h)
		}
	}
	tlsDER, _, err := createCert(tlsTmpl, caCert, tlsKey.Public(), caKey)
	if err != nil {
		return fmt.Errorf("hub: TLS certificate: %w", err)
	}

	_, batchKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	batchCert, err := wire.CertifyKey(rootKey, batchKey.Public(), now, now.Add(o.Validity/5))
	if err != nil {
		return err
	}
	batchJSON, _ := json.Marshal(batchCert)

	platPriv, platPub, err := identity.NewPlatformKey()
	if err != nil {
		return err
	}

	files := []struct {
		name string
		data []byte
		key  any // a private key: written as PKCS #8 PEM
	}{
		{name: rootKeyFile, key: rootKey}, {name: rootCertFile, data: keyfile.PEMCert(rootDER)},
		{name: caKeyFile, key: caKey}, {name: caCertFile, data: keyfile.PEMCert(caDER)},
		{name: tlsKeyFile, key: tlsKey}, {name: tlsCertFile, data: keyfile.PEMCert(tlsDER)},
		{name: batchKeyFile, key: batchKey}, {name: batchCertFile, data: batchJSON},
		{name: platformKeyFile, data: platPriv}, {name: platformPubFile, data: platPub},
	}
	for _, f := range files {
		if f.key != nil {
			if f.data, err = keyfile.PEMKey(f.key); err != nil {
				return fmt.Errorf("hub: %s: %w", f.name, err)
			}
		}
		if err := keyfile.Write(filepath.Join(kd, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// keyring is the hub's loaded keys.
type keyring struct {
	root        crypto.Signer
	rootCert    *x509.Certificate
	ca          crypto.Signer
	caCert      *x509.Certificate
	tls         tls.Certificate
	batch       *wire.Signer
	platformKey []byte
	platformPub []byte
}

func loadKeys(dir string) (*keyring, error) {
	kd := filepath.Join(dir, "keys")
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(kd, name))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("hub: %s missing: run `onepass-hub init keys --data %s` first", filepath.Join(kd, name), dir)
			}
			return nil, fmt.Errorf("hub: %w", err)
		}
		return b, nil
	}
	readDER := func(name string) ([]byte, error) {
		b, err := read(name)
		if err != nil {
			return nil, err
		}
		return pemDER(name, b)
	}
	key := func(name string) (crypto.Signer, error) {
		der, err := readDER(name)
		if err != nil {
			return nil, err
		}
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("hub: %s: %w", name, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("hub: %s: not a signing key", name)
		}
		return s, nil
	}
	cert := func(name string) (*x509.Certificate, error) {
		der, err := readDER(name)
		if err != nil {
			return nil, err
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("hub: %s: %w", name, err)
		}
		return c, nil
	}
	k := &keyring{}
	var err error
	if k.root, err = key(rootKeyFile); err != nil {
		return nil, err
	}
	if k.rootCert, err = cert(rootCertFile); err != nil {
		return nil, err
	}
	if k.ca, err = key(caKeyFile); err != nil {
		return nil, err
	}
	if k.caCert, err = cert(caCertFile); err != nil {
		return nil, err
	}
	tlsKey, err := key(tlsKeyFile)
	if err != nil {
		return nil, err
	}
	tlsCert, err := cert(tlsCertFile)
	if err != nil {
		return nil, err
	}
	k.tls = tls.Certificate{
		Certificate: [][]byte{tlsCert.Raw, k.caCert.Raw, k.rootCert.Raw},
		PrivateKey:  tlsKey, Leaf: tlsCert,
	}
	bk, err := key(batchKeyFile)
	if err != nil {
		return nil, err
	}
	bj, err := read(batchCertFile)
	if err != nil {
		return nil, err
	}
	var bc wire.Envelope
	if err := json.Unmarshal(bj, &bc); err != nil {
		return nil, fmt.Errorf("hub: %s: %w", batchCertFile, err)
	}
	if k.batch, err = wire.NewSigner(bk, bc); err != nil {
		return nil, err
	}
	if k.platformKey, err = read(platformKeyFile); err != nil {
		return nil, err
	}
	if k.platformPub, err = read(platformPubFile); err != nil {
		return nil, err
	}
	return k, nil
}

// pemDER returns the DER inside the (first) PEM block of the key file name.
func pemDER(name string, b []byte) ([]byte, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("hub: %s is not PEM", name)
	}
	return blk.Bytes, nil
}

// RootSPKI returns the root public key as SubjectPublicKeyInfo DER: what a kiosk pins in
// `[trust] root` (base64).
func RootSPKI(dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, "keys", rootCertFile))
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	der, err := pemDER(rootCertFile, b)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	return c.RawSubjectPublicKeyInfo, nil
}

// issueDeviceCert signs a client certificate for an enrolling device.
func (k *keyring) issueDeviceCert(csr *x509.CertificateRequest, device, hall string, validity time.Duration) ([]byte, *x509.Certificate, error) {
	now := time.Now()
	tmpl := certTemplate(roleClient, pkix.Name{CommonName: device, Organization: []string{hall}}, now.Add(-5*time.Minute), now.Add(validity))
	der, c, err := createCert(tmpl, k.caCert, csr.PublicKey, k.ca)
	if err != nil {
		return nil, nil, fmt.Errorf("hub: issue certificate: %w", err)
	}
	return der, c, nil
}

// certRole says what a hub certificate is for.
type certRole int

const (
	roleRoot   certRole = iota // the root: signs the device CA
	roleCA                     // the device CA: signs leaves only (path length 0)
	roleServer                 // the hub's TLS server certificate
	roleClient                 // a device's client certificate
)

// certTemplate is the template of every certificate the hub makes: a fresh serial, the
// validity, and the key usages of its role.
func certTemplate(role certRole, subject pkix.Name, notBefore, notAfter time.Time) *x509.Certificate {
	t := &x509.Certificate{
		SerialNumber: serial(), Subject: subject, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	switch role {
	case roleRoot, roleCA:
		t.IsCA, t.BasicConstraintsValid, t.MaxPathLenZero = true, true, role == roleCA
		t.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	case roleServer:
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case roleClient:
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return t
}

// createCert signs tmpl for pub with signer under parent (nil: self-signed) and returns the
// certificate as DER and parsed.
func createCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) ([]byte, *x509.Certificate, error) {
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return der, c, nil
}
