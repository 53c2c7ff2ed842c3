package local

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"onepass/cmd/internal/ctl"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"onepass/signing"
	"onepass/sync/store"
)

func trustDoc(t *testing.T, root *signing.PrivateKey, seq int64) string {
	t.Helper()
	iss, _ := signing.GenerateKey(signing.EdDSA)
	now := time.Now().UTC().Truncate(time.Second)
	l := &signing.TrustList{Version: 1, Seq: seq, IssuedAt: now, Issuers: []signing.Issuer{{
		ID: "510000-SCJKM", Name: "四川省健康码", Region: "510000", Classes: []int{1, 2},
		Binding: signing.DefaultBind, Keys: []signing.IssuerKey{signing.NewIssuerKey(iss.Public(), now.AddDate(0, 0, -1), now.AddDate(1, 0, 0))},
	}}}
	doc, err := signing.SignTrustList(l, root)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "trust.json")
	os.WriteFile(path, doc, 0o644)
	return path
}

func TestTrustImport(t *testing.T) {
	root, _ := signing.GenerateKey(signing.ES256)
	data := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "onepassd.toml")
	os.WriteFile(cfg, []byte("[trust]\nroot = \""+base64.StdEncoding.EncodeToString(root.Public().SPKI())+"\"\n"), 0o644)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := trustCommand(append([]string{"import"}, append(args, "--config", cfg, "--data", data)...), &out)
		return out.String(), err
	}
	out, err := run(trustDoc(t, root, 5))
	if err != nil || !strings.Contains(out, "trust list seq 5") || !strings.Contains(out, "510000-SCJKM") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if _, err := run(trustDoc(t, root, 4)); !errors.Is(err, signing.ErrRollback) {
		t.Errorf("older list: %v, want a rollback refusal", err)
	}
	other, _ := signing.GenerateKey(signing.ES256)
	if _, err := run(trustDoc(t, other, 9)); !errors.Is(err, signing.ErrTrustList) {
		t.Errorf("list signed by another root: %v", err)
	}
	if _, err := run(trustDoc(t, root, 6)); err != nil {
		t.Errorf("newer list: %v", err)
	}
	db, err := store.Open(context.Background(), filepath.Join(data, "onepass.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if seq, _, _ := db.TrustList(context.Background()); seq != 6 {
		t.Errorf("held seq %d, want 6", seq)
	}
	// Without a pinned root nothing is imported.
	noRoot := filepath.Join(t.TempDir(), "empty.toml")
	os.WriteFile(noRoot, nil, 0o644)
	var out2 bytes.Buffer
	err = trustCommand([]string{"import", trustDoc(t, root, 7), "--config", noRoot, "--data", data}, &out2)
	if err == nil || !strings.Contains(err.Error(), "[trust] root") {
		t.Errorf("no root configured: %v", err)
	}
	var ue ctl.UsageError
	if err := trustCommand([]string{"export"}, &out2); !errors.As(err, &ue) {
		t.Errorf("trust export: %v, want usage", err)
	}
}
