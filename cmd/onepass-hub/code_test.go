package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"onepass/identity"
	"onepass/kiosk/healthcode"
	"onepass/kiosk/policy"
	"onepass/signing"
)

func TestCodeKeygenTrustListIssue(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := codeCommand(args, &out, &errOut)
		return out.String(), errOut.String(), code
	}
	rootKey, issKey := filepath.Join(dir, "root.key"), filepath.Join(dir, "iss.key")
	rootPub, _, code := run("keygen", "--alg", "EdDSA", "--out", rootKey)
	if code != 0 {
		t.Fatalf("keygen root: %d", code)
	}
	if _, _, code := run("keygen", "--alg", "SM2-SM3", "--out", issKey); code != 0 {
		t.Fatalf("keygen issuer: %d", code)
	}
	if st, _ := os.Stat(issKey); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	if _, _, code := run("keygen", "--alg", "SM2-SM3", "--out", issKey); code != 1 {
		t.Error("keygen overwrote an existing key")
	}
	doc := filepath.Join(dir, "trust.json")
	if _, errOut, code := run("trust-list", "--root", rootKey, "--seq", "3", "--issuer", "HALL-1", "--key", issKey, "--classes", "2", "--out", doc); code != 0 {
		t.Fatalf("trust-list: %s", errOut)
	}
	root, err := signing.ParsePublicKeyBase64(strings.TrimSpace(rootPub))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(doc)
	list, err := healthcode.OpenDocument(b, root)
	if err != nil {
		t.Fatal(err)
	}

	pngPath := filepath.Join(dir, "code.png")
	text, errOut, code := run("issue", "--status", "green", "--class", "printed", "--id", "11010119900307447X",
		"--name", "张三", "--key", issKey, "--issuer", "HALL-1", "--out", pngPath)
	if code != 0 || !strings.HasPrefix(text, "JKM1:") || !strings.Contains(errOut, "张*") {
		t.Fatalf("issue: %d %q %s", code, text, errOut)
	}
	if strings.Contains(text+errOut, "11010119900307447X") {
		t.Error("the ID number appears in the output")
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() < 200 {
		t.Fatalf("PNG: %v %v", err, img)
	}
	v, err := healthcode.NewVerifier(healthcode.Options{Trust: healthcode.StaticTrust{List: list}, Clock: healthcode.TrustedTime{}})
	if err != nil {
		t.Fatal(err)
	}
	r := v.Verify(context.Background(), strings.TrimSpace(text), &healthcode.Card{Type: identity.CertResident, Number: "11010119900307447X"})
	if r.Code.Check != policy.CodeValid || !*r.Code.BindMatches || r.Code.Class != policy.ClassPrinted {
		t.Fatalf("the issued code does not verify: %+v %v", r.Code, r.Err)
	}
	// A phone code is refused by this issuer's entry (printed only).
	text, _, _ = run("issue", "--status", "green", "--class", "phone", "--id", "11010119900307447X",
		"--name", "张三", "--key", issKey, "--issuer", "HALL-1", "--out", pngPath)
	if r := v.Verify(context.Background(), strings.TrimSpace(text), nil); r.Code.Check != policy.CodeClassNotAllowed {
		t.Errorf("phone code from a printed-only issuer: %s", r.Code.Check)
	}
	for _, args := range [][]string{{}, {"issue", "--status", "blue"}, {"issue", "--status", "green", "--class", "phone"}, {"frobnicate"}} {
		if _, _, code := run(args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
