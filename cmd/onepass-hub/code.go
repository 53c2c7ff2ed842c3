package main

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"

	"onepass/identity"
	"onepass/kiosk/healthcode"
	"onepass/kiosk/policy"
	"onepass/signing"
)

const codeUsage = `onepass-hub code — JKM1 health codes for tests, demos and halls that issue their own

Usage:
  onepass-hub code issue --status green|yellow|red --class phone|printed|proxy --id ID --name NAME
                         --key ISSUER.key --issuer ISSUER_ID [--type 10] [--valid DURATION]
                         [--out FILE.png] [--bind-time 1 --bind-memory-kib 8192 --bind-threads 1]
      make a signed code: its text on stdout; on stderr its code ID (what code revoke --cid takes);
      its QR image in FILE.png (default code.png, which is never overwritten: give --out to replace)
  onepass-hub code keygen --alg ES256|EdDSA|SM2-SM3 --out FILE.key
      make a signing key (PKCS #8 PEM, mode 0600); prints its public key (base64 SPKI DER),
      which is what [trust] root and trust-list entries take
  onepass-hub code trust-list --root ROOT.key --seq N --issuer ID --key ISSUER.key
                         [--name NAME] [--region CODE] [--classes 1,2,3] [--years 2] [--out FILE]
      sign a trust list with one issuer (the whole list of a region comes from the hub)

In --sim the kiosk trusts the issuer SIM whose key is <data>/keys/sim-issuer.key.
`

// codeCommand runs `onepass-hub code …`; the exit status is 0, 1 (failed) or 2 (bad usage).
func codeCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, codeUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var err error
	switch args[0] {
	case "issue":
		err = codeIssue(args[1:], stdout, stderr)
	case "keygen":
		err = codeKeygen(args[1:], stdout)
	case "trust-list":
		err = codeTrustList(args[1:], stdout, stderr)
	default:
		err = usageErr(fmt.Sprintf("unknown command code %s", args[0]))
	}
	var ue usageErr
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "onepass-hub code: %s\n\n%s", err, codeUsage)
		return 2
	default:
		fmt.Fprintln(stderr, "onepass-hub code:", err)
		return 1
	}
}

type usageErr string

func (e usageErr) Error() string { return string(e) }

var (
	statusNames = map[string]policy.Status{"green": policy.StatusGreen, "yellow": policy.StatusYellow, "red": policy.StatusRed}
	classNames  = map[string]policy.CodeClass{"phone": policy.ClassPhone, "printed": policy.ClassPrinted, "proxy": policy.ClassProxy}
)

func codeIssue(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("code issue", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	status := fs.String("status", "", "")
	class := fs.String("class", "", "")
	id := fs.String("id", "", "")
	name := fs.String("name", "", "")
	keyFile := fs.String("key", "", "")
	issuer := fs.String("issuer", "", "")
	ct := fs.Int("type", int(identity.CertResident), "")
	valid := fs.Duration("valid", 0, "")
	out := fs.String("out", "", "")
	bt := fs.Uint("bind-time", uint(signing.DefaultBind.Time), "")
	bm := fs.Uint("bind-memory-kib", uint(signing.DefaultBind.MemoryKiB), "")
	bp := fs.Uint("bind-threads", uint(signing.DefaultBind.Threads), "")
	if err := fs.Parse(args); err != nil {
		return usageErr("code issue: " + err.Error())
	}
	if fs.NArg() > 0 {
		return usageErr(fmt.Sprintf("code issue: unexpected argument %q", fs.Arg(0)))
	}
	st, ok := statusNames[*status]
	if !ok {
		return usageErr("code issue: --status green, yellow or red")
	}
	cls, ok := classNames[*class]
	if !ok {
		return usageErr("code issue: --class phone, printed or proxy")
	}
	if *id == "" || *name == "" || *keyFile == "" || *issuer == "" {
		return usageErr("code issue needs --id, --name, --key and --issuer")
	}
	key, err := readKey(*keyFile)
	if err != nil {
		return err
	}
	signer := &healthcode.Signer{Issuer: *issuer, Key: key,
		Binding: signing.BindParams{Time: uint32(*bt), MemoryKiB: uint32(*bm), Threads: uint8(*bp)}}
	text, claims, err := signer.Issue(healthcode.CodeRequest{Status: st, Class: cls, CertType: identity.CertType(*ct),
		Number: *id, Name: *name, Validity: *valid})
	if err != nil {
		return err
	}
	// Phone screens are read at ECC level M, paper at Q (specs/healthcode-jkm1.md).
	level, px := qrcode.Medium, 6
	if cls != policy.ClassPhone {
		level, px = qrcode.High, 8
	}
	q, err := qrcode.New(text, level)
	if err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	png, err := q.PNG(-px)
	if err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	file, err := writePNG(*out, png)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, text)
	fmt.Fprintf(stderr, "%s code for %s (%s), valid until %s, QR version %d: %s\n", *class, claims.MaskedName,
		*status, claims.Expires.Local().Format(time.DateTime), q.VersionNumber, file)
	fmt.Fprintf(stderr, "code ID %x (onepass-hub code revoke --cid %x)\n", claims.CID, claims.CID)
	return nil
}

// defaultPNG is where code issue puts the QR image without --out.
const defaultPNG = "code.png"

// writePNG writes the image to out, or without --out to code.png only if there is none: a
// second code must not silently replace the picture of the first.
func writePNG(out string, png []byte) (string, error) {
	if out != "" {
		return out, os.WriteFile(out, png, 0o644)
	}
	f, err := os.OpenFile(defaultPNG, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("%s exists: give --out FILE.png (or remove it)", defaultPNG)
	}
	if err != nil {
		return "", err
	}
	if _, err := f.Write(png); err != nil {
		f.Close()
		return "", err
	}
	return defaultPNG, f.Close()
}

func readKey(path string) (*signing.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := signing.ParsePrivateKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func codeKeygen(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("code keygen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	alg := fs.String("alg", "", "")
	out := fs.String("out", "", "")
	if err := fs.Parse(args); err != nil {
		return usageErr("code keygen: " + err.Error())
	}
	if *alg == "" || *out == "" {
		return usageErr("code keygen needs --alg and --out")
	}
	k, err := signing.GenerateKey(signing.Alg(*alg))
	if err != nil {
		return usageErr(err.Error())
	}
	pem, err := k.MarshalPEM()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(pem); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(k.Public().SPKI()))
	return nil
}

func codeTrustList(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("code trust-list", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	rootFile := fs.String("root", "", "")
	seq := fs.Int64("seq", 0, "")
	issuer := fs.String("issuer", "", "")
	keyFile := fs.String("key", "", "")
	name := fs.String("name", "", "")
	region := fs.String("region", "", "")
	classes := fs.String("classes", "1,2,3", "")
	years := fs.Int("years", 2, "")
	out := fs.String("out", "", "")
	if err := fs.Parse(args); err != nil {
		return usageErr("code trust-list: " + err.Error())
	}
	if *rootFile == "" || *seq <= 0 || *issuer == "" || *keyFile == "" {
		return usageErr("code trust-list needs --root, --seq (> 0), --issuer and --key")
	}
	root, err := readKey(*rootFile)
	if err != nil {
		return err
	}
	key, err := readKey(*keyFile)
	if err != nil {
		return err
	}
	var cls []int
	for _, s := range strings.Split(*classes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 3 {
			return usageErr(fmt.Sprintf("code trust-list: class %q: want 1 (phone), 2 (printed), 3 (proxy)", s))
		}
		cls = append(cls, n)
	}
	now := time.Now().UTC().Truncate(time.Second)
	l := &signing.TrustList{Version: 1, Seq: *seq, IssuedAt: now, Issuers: []signing.Issuer{{
		ID: *issuer, Name: *name, Region: *region, Classes: cls, Binding: signing.DefaultBind,
		Keys: []signing.IssuerKey{signing.NewIssuerKey(key.Public(), now.AddDate(0, 0, -1), now.AddDate(*years, 0, 0))},
	}}}
	doc, err := signing.SignTrustList(l, root)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = fmt.Fprintln(stdout, string(doc))
		return err
	}
	if err := os.WriteFile(*out, append(doc, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "trust list seq %d with issuer %s: %s\n", *seq, *issuer, *out)
	return nil
}
