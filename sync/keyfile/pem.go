package keyfile

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// PEMKey encodes a private key as PKCS #8 PEM ("PRIVATE KEY"), the form of every key file.
func PEMKey(key any) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PEMCert encodes a DER certificate as PEM ("CERTIFICATE").
func PEMCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
