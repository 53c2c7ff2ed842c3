package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"onepass/identity"
	"onepass/kiosk"
	"onepass/sync/keyfile"
)

// Key files under <data>/keys. Until sync delivers the real keys (enrollment), --sim makes them on
// first start. platform.key exists only in --sim: a real kiosk never holds the platform's private key.
const (
	deploymentKeyFile = "deployment.key"
	platformPubFile   = "platform.pub"
	platformKeyFile   = "platform.key"
)

func loadKeys(dir string, generate bool) (kiosk.Keys, error) {
	if generate {
		if err := ensureSimKeys(dir); err != nil {
			return kiosk.Keys{}, err
		}
	}
	dk, err := os.ReadFile(filepath.Join(dir, deploymentKeyFile))
	if err != nil {
		return kiosk.Keys{}, fmt.Errorf("deployment key: %w", err)
	}
	if len(dk) != identity.DeploymentKeySize {
		return kiosk.Keys{}, fmt.Errorf("deployment key: %d bytes, want %d", len(dk), identity.DeploymentKeySize)
	}
	pub, err := os.ReadFile(filepath.Join(dir, platformPubFile))
	if err != nil {
		return kiosk.Keys{Deployment: dk}, fmt.Errorf("platform key: %w", err)
	}
	s, err := identity.NewSealer(pub)
	if err != nil {
		return kiosk.Keys{Deployment: dk}, err
	}
	return kiosk.Keys{Deployment: dk, Sealer: s}, nil
}

func ensureSimKeys(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	dkPath := filepath.Join(dir, deploymentKeyFile)
	if _, err := os.Stat(dkPath); errors.Is(err, os.ErrNotExist) {
		k := make([]byte, identity.DeploymentKeySize)
		rand.Read(k)
		if err := keyfile.Write(dkPath, k); err != nil {
			return err
		}
	}
	pubPath := filepath.Join(dir, platformPubFile)
	if _, err := os.Stat(pubPath); errors.Is(err, os.ErrNotExist) {
		priv, pub, err := identity.NewPlatformKey()
		if err != nil {
			return err
		}
		if err := keyfile.Write(filepath.Join(dir, platformKeyFile), priv); err != nil {
			return err
		}
		if err := keyfile.Write(pubPath, pub); err != nil {
			return err
		}
	}
	return nil
}
