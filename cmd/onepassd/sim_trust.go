package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"onepass/signing"
	"onepass/sync/keyfile"
)

// The simulated platform's code issuer: `onepass-hub code issue --key <data>/keys/sim-issuer.key
// --issuer SIM …` makes codes the --sim kiosk accepts; the embedded hub lists it in its trust list
// (sync.go). Like platform.key, this private key exists only in --sim: a real kiosk holds no
// private key of the trust chain.
const (
	simIssuerID      = "SIM"
	simIssuerKeyFile = "sim-issuer.key"
)

// loadOrMakeKey reads a PEM signing key, making it (mode 0600) on first use.

func loadOrMakeKey(path string, alg signing.Alg) (*signing.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return signing.ParsePrivateKeyPEM(b)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	k, err := signing.GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	pemBytes, err := k.MarshalPEM()
	if err != nil {
		return nil, err
	}
	return k, keyfile.Write(path, pemBytes)
}
