package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"onepass/identity"
	"onepass/sync/keyfile"
	"onepass/sync/wire"
)

// Key files in KeysDir, the daemon's existing layout.
const (
	deploymentKeyFile = "deployment.key"
	deploymentNext    = "deployment.key.next"
	platformPubFile   = "platform.pub"
)

// syncKeys fetches the deployment key of a new epoch, sealed to this device. It waits in
// deployment.key.next until the replica of that epoch is complete (promoteKeys).
func (c *Client) syncKeys(ctx context.Context, r *round) error {
	have, err := metaInt(ctx, c.db, metaKeysEpoch)
	if err != nil {
		return err
	}
	next, err := metaInt(ctx, c.db, metaKeysNext)
	if err != nil {
		return err
	}
	want := r.head.Keys.Epoch
	if want == have || want == next {
		return nil
	}
	body, err := c.do(ctx, http.MethodGet, wire.PathKeys, nil)
	if err != nil {
		return err
	}
	var k wire.Keys
	if err := c.open(r, body, wire.TypeKeys, &k); err != nil {
		return err
	}
	if k.Device != c.id.Device {
		return fmt.Errorf("sync: keys rejected: sealed for device %q", k.Device)
	}
	var key []byte
	for _, sk := range k.Keys {
		if sk.Epoch == want {
			if key, err = wire.OpenDeploymentKey(c.id.key, c.id.Device, sk.Epoch, sk.Sealed); err != nil {
				return fmt.Errorf("sync: keys rejected: %w", err)
			}
		}
	}
	if len(key) != identity.DeploymentKeySize {
		return fmt.Errorf("sync: keys rejected: no %d-byte deployment key for epoch %d", identity.DeploymentKeySize, want)
	}
	if _, err := identity.NewSealer(k.PlatformPublicKey); err != nil {
		return fmt.Errorf("sync: keys rejected: %w", err)
	}
	if err := os.MkdirAll(c.cfg.KeysDir, 0o700); err != nil {
		return fmt.Errorf("sync: keys: %w", err)
	}
	if err := keyfile.Write(filepath.Join(c.cfg.KeysDir, platformPubFile), k.PlatformPublicKey); err != nil {
		return fmt.Errorf("sync: keys: %w", err)
	}
	if err := keyfile.Write(filepath.Join(c.cfg.KeysDir, deploymentNext), key); err != nil {
		return fmt.Errorf("sync: keys: %w", err)
	}
	c.log.Info("sync: received the deployment key of a new epoch", "epoch", want)
	return setMetaInt(ctx, c.db, metaKeysNext, want)
}

// promoteKeys installs a waiting deployment key once the replica is keyed under its epoch.
func (c *Client) promoteKeys(ctx context.Context) error {
	next, err := metaInt(ctx, c.db, metaKeysNext)
	if err != nil || next == 0 {
		return err
	}
	st, err := c.loadStatusState(ctx)
	if err != nil {
		return err
	}
	if st.Snapshot != nil || st.Epoch != next {
		return nil
	}
	path := filepath.Join(c.cfg.KeysDir, deploymentKeyFile)
	if err := os.Rename(filepath.Join(c.cfg.KeysDir, deploymentNext), path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sync: install deployment key: %w", err)
	}
	if err := setMetaInt(ctx, c.db, metaKeysEpoch, next); err != nil {
		return err
	}
	if err := setMetaInt(ctx, c.db, metaKeysNext, 0); err != nil {
		return err
	}
	c.log.Info("sync: deployment key installed", "epoch", next)
	if c.cfg.OnKeys != nil {
		k, err := LoadKeys(c.cfg.KeysDir)
		if err != nil {
			return err
		}
		k.Epoch = next
		c.cfg.OnKeys(k)
	}
	return nil
}

// LoadKeys reads the installed deployment key and platform key from a keys directory.
func LoadKeys(dir string) (Keys, error) {
	dk, err := os.ReadFile(filepath.Join(dir, deploymentKeyFile))
	if err != nil {
		return Keys{}, fmt.Errorf("sync: deployment key: %w", err)
	}
	pub, err := os.ReadFile(filepath.Join(dir, platformPubFile))
	if err != nil {
		return Keys{}, fmt.Errorf("sync: platform key: %w", err)
	}
	return Keys{Deployment: dk, PlatformPub: pub}, nil
}
