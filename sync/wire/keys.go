package wire

import (
	"crypto/ecdsa"
	"crypto/hpke"
	"fmt"
	"time"
)

// Deployment keys travel sealed to the device's own key (the P-256 key of its client
// certificate): HPKE base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, with an info
// string that names the device and the epoch, so a sealed key cannot be replayed to another
// device or as another epoch.
func keyInfo(device string, epoch int64) []byte {
	return fmt.Appendf(nil, "onepass deployment key v1|%s|%d", device, epoch)
}

// SealDeploymentKey seals a deployment key to a device.
func SealDeploymentKey(device *ecdsa.PublicKey, deviceID string, epoch int64, key []byte) ([]byte, error) {
	pub, err := device.ECDH()
	if err != nil {
		return nil, fmt.Errorf("wire: device key: %w", err)
	}
	pk, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("wire: device key: %w", err)
	}
	out, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES128GCM(), keyInfo(deviceID, epoch), key)
	if err != nil {
		return nil, fmt.Errorf("wire: seal deployment key: %w", err)
	}
	return out, nil
}

// OpenDeploymentKey is the device's side of SealDeploymentKey.
func OpenDeploymentKey(device *ecdsa.PrivateKey, deviceID string, epoch int64, sealed []byte) ([]byte, error) {
	priv, err := device.ECDH()
	if err != nil {
		return nil, fmt.Errorf("wire: device key: %w", err)
	}
	k, err := hpke.NewDHKEMPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("wire: device key: %w", err)
	}
	out, err := hpke.Open(k, hpke.HKDFSHA256(), hpke.AES128GCM(), keyInfo(deviceID, epoch), sealed)
	if err != nil {
		return nil, fmt.Errorf("wire: deployment key of epoch %d is not sealed to this device", epoch)
	}
	return out, nil
}

// TrustList is the payload of the trust-list document (specs/healthcode-jkm1.md).
type TrustList struct {
	Version  int           `json:"version"`
	Seq      int64         `json:"seq"`
	IssuedAt time.Time     `json:"issued_at"`
	Issuers  []TrustIssuer `json:"issuers"`
}

// TrustIssuer is one code issuer in the trust list.
type TrustIssuer struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Region  string       `json:"region"`
	Classes []int        `json:"classes"`
	Binding TrustBinding `json:"binding"`
	Keys    []TrustKey   `json:"keys"`
}

// TrustBinding are the issuer's Argon2id parameters for the card binding hash.
type TrustBinding struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// TrustKey is one issuer signing key; usable for codes issued in [NotBefore, NotAfter).
type TrustKey struct {
	KID       []byte    `json:"kid"`
	Alg       string    `json:"alg"`
	PublicKey []byte    `json:"public_key"` // SubjectPublicKeyInfo DER
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}
