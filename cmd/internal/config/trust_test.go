package config

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"onepass/kiosk/healthcode"
	"onepass/signing"
)

func TestTrustSection(t *testing.T) {
	k, err := signing.GenerateKey(signing.SM2SM3)
	if err != nil {
		t.Fatal(err)
	}
	root := base64.StdEncoding.EncodeToString(k.Public().SPKI())
	c := Default()
	if err := c.parse("[trust]\nroot = \"" + root + "\"\nmax_skew = \"90s\"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := c.Trust.RootKey()
	if err != nil || got.Alg() != signing.SM2SM3 || c.Trust.MaxSkew.Duration != 90*time.Second {
		t.Fatalf("root %v, %v, skew %s", got, err, c.Trust.MaxSkew)
	}
	for text, want := range map[string]string{
		"[trust]\nroot = \"not base64!\"\n":    "trust.root",
		"[trust]\nroot = \"AAAA\"\n":           "trust.root",
		"[trust]\nmax_skew = \"0s\"\n":         "trust.max_skew",
		"[trust]\nroot_key = \"" + root + "\"": "unknown key trust.root_key",
	} {
		c := Default()
		if err := c.parse(text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
	if d := Default(); d.Trust.Root != "" || d.Trust.MaxSkew.Duration != healthcode.DefaultMaxSkew {
		t.Errorf("default [trust]: %+v", d.Trust)
	}
}
