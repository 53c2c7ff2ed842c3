package client

import (
	"crypto/tls"
	"crypto/x509"
)

// Probe is what a technician's self-test (`onepassctl selftest`) needs to check the sync path
// without syncing: the hub's URL, the TLS configuration the client itself uses (the device
// certificate, the hub trusted only through the pinned root) and the device certificate.
type Probe struct {
	Hub  string
	TLS  *tls.Config
	Cert *x509.Certificate
}

// LoadProbe reads the enrollment in dir. hub overrides the enrolled URL as Config.Hub does; root
// nil pins the root enrolled with. It fails with ErrNotEnrolled when there is no enrollment.
func LoadProbe(dir, hub string, root []byte) (Probe, error) {
	id, err := loadIdentity(dir)
	if err != nil {
		return Probe{}, err
	}
	base := id.Hub
	if hub != "" {
		if base, err = baseURL(hub); err != nil {
			return Probe{}, err
		}
	}
	if root == nil {
		root = id.Root
	}
	return Probe{Hub: base, TLS: pinnedTLS(base, root, id.chain, &id.cert), Cert: id.leaf}, nil
}
