package wire

import (
	"crypto/ecdsa"
	"crypto/hpke"
	"fmt"
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
