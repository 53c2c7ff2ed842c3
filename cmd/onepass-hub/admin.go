package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"onepass/identity"
	"onepass/signing"
	"onepass/sync/hub"
	"onepass/sync/hub/dashboard"
	"onepass/sync/wire"
)

// adminUsage is a usage error of an admin command.
type adminUsage string

func (e adminUsage) Error() string { return string(e) }

// admin runs the hub's own commands against its data directory and database (dbURL; "" is the
// SQLite file in dir). They write the same database a running `serve` reads, so they work while
// it serves.
func admin(dir, dbURL string, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err := adminRun(ctx, dir, dbURL, args, stdout, stderr)
	var ue adminUsage
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "onepass-hub: %s\n\n%s", err, usage)
		return 2
	default:
		fmt.Fprintln(stderr, "onepass-hub:", err)
		return 1
	}
}

func adminRun(ctx context.Context, dir, dbURL string, args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 1 {
		sub = args[1]
	}
	cmd := args[0]
	switch cmd {
	case "init":
		if sub != "keys" {
			return adminUsage("init: did you mean `init keys`?")
		}
		if err := initKeys(dir, args[2:], stdout); err != nil {
			return err
		}
		if dbURL == "" {
			return nil
		}
		// Open the database once: its migrations are applied, and a wrong URL shows now.
		h, err := hub.Open(ctx, dir, hub.Options{DB: dbURL, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "database ready")
		return h.Close()
	case "root":
		spki, err := hub.RootSPKI(dir)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(spki))
		return nil
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts := hub.Options{Logger: logger, DB: dbURL}
	var listen string
	var push time.Duration
	if cmd == "serve" {
		// serve's flags tune the hub itself: parsed before it opens.
		var err error
		if listen, opts.MaxSkew, push, err = serveFlags(args[1:]); err != nil {
			return err
		}
	}
	h, err := hub.Open(ctx, dir, opts)
	if err != nil {
		return err
	}
	defer h.Close()
	switch cmd + " " + sub {
	case "serve " + sub:
		return serve(ctx, h, listen, push, opts.MaxSkew, stdout, logger)
	case "token " + sub:
		return token(ctx, h, args[1:], stdout)
	case "status set":
		return statusSet(ctx, h, args[2:], stdout)
	case "issuer add":
		return issuerAdd(ctx, h, args[2:], stdout)
	case "issuer revoke":
		return issuerRevoke(ctx, h, args[2:], stdout)
	case "code revoke":
		return codeRevoke(ctx, h, args[2:], stdout)
	case "policy set":
		return policySet(ctx, h, args[2:], stdout)
	case "keys rotate":
		epoch, dropped, err := h.RotateDeploymentKey(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deployment key epoch %d; kiosks switch after their next snapshot", epoch)
		if dropped > 0 {
			fmt.Fprintf(stdout, "; %d persons without a sealed ID could not be re-keyed and were dropped", dropped)
		}
		fmt.Fprintln(stdout)
		return nil
	case "devices list":
		return devicesList(ctx, h, args[2:], stdout)
	case "devices revoke":
		if len(args) != 3 {
			return adminUsage("devices revoke needs one device ID")
		}
		if err := h.RevokeDevice(ctx, args[2]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "device %s revoked: the hub refuses it from its next request on\n", args[2])
		return nil
	case "visits export":
		return visitsExport(ctx, h, args[2:], stdout)
	case "admin add":
		return adminAdd(ctx, h, args[2:], os.Stdin, stdout)
	case "admin passwd":
		return adminPasswd(ctx, h, args[2:], os.Stdin, stdout)
	case "admin list":
		if err := parse(newFlags("admin list"), args[2:]); err != nil {
			return err
		}
		ops, err := h.Operators(ctx)
		if err != nil {
			return err
		}
		for _, o := range ops {
			fmt.Fprintf(stdout, "%s\tadded %s\n", o.Name, o.CreatedAt.Local().Format("2006-01-02 15:04"))
		}
		return nil
	case "admin remove":
		fs := newFlags("admin remove")
		user := fs.String("user", "", "")
		if err := parse(fs, args[2:]); err != nil {
			return err
		}
		if *user == "" {
			return adminUsage("admin remove needs --user")
		}
		if err := h.RemoveOperator(ctx, *user); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "operator %s removed; their sessions ended\n", *user)
		return nil
	}
	return adminUsage(fmt.Sprintf("unknown command %q", strings.TrimSpace(cmd+" "+sub)))
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return adminUsage(fs.Name() + ": " + err.Error())
	}
	if fs.NArg() > 0 {
		return adminUsage(fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0)))
	}
	return nil
}

func initKeys(dir string, args []string, stdout io.Writer) error {
	fs := newFlags("init keys")
	hosts := fs.String("host", "localhost,127.0.0.1,::1", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	var hs []string
	for h := range strings.SplitSeq(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hs = append(hs, h)
		}
	}
	if err := hub.Init(dir, hub.InitOptions{Hosts: hs}); err != nil {
		return err
	}
	spki, err := hub.RootSPKI(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "hub keys created in %s/keys (TLS names: %s)\n", dir, strings.Join(hs, ", "))
	fmt.Fprintf(stdout, "pin this root key in every kiosk's configuration:\n\n[trust]\nroot = %q\n", base64.StdEncoding.EncodeToString(spki))
	return nil
}

// serveFlags parses `serve [--listen ADDR] [--max-skew D] [--push-interval D]`. --max-skew is
// the kiosks' [trust] max_skew and --push-interval their [sync] push_interval, each in the range
// the kiosk's configuration allows.
func serveFlags(args []string) (listen string, maxSkew, push time.Duration, err error) {
	fs := newFlags("serve")
	l := fs.String("listen", ":8443", "")
	skew := fs.Duration("max-skew", hub.DefaultMaxSkew, "")
	pi := fs.Duration("push-interval", 5*time.Second, "")
	if err := parse(fs, args); err != nil {
		return "", 0, 0, err
	}
	if *skew < time.Second || *skew > 24*time.Hour {
		return "", 0, 0, adminUsage(fmt.Sprintf("serve: --max-skew %s: want 1s–24h", *skew))
	}
	if *pi < 100*time.Millisecond || *pi > time.Hour {
		return "", 0, 0, adminUsage(fmt.Sprintf("serve: --push-interval %s: want 100ms–1h", *pi))
	}
	return *l, *skew, *pi, nil
}

// minPassword is the shortest operator password accepted.
const minPassword = 12

// adminAdd adds an operator; the password comes from standard input (one line), so it stays out
// of shell history and the process list, and only its bcrypt hash is stored.
func adminAdd(ctx context.Context, h *hub.Hub, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlags("admin add")
	user := fs.String("user", "", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !hub.ValidOperatorName(*user) {
		return adminUsage("admin add needs --user NAME: a letter, then up to 31 letters, digits, _ . -")
	}
	hash, err := readPassword("admin add", stdin)
	if err != nil {
		return err
	}
	if err := h.AddOperator(ctx, *user, hash); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "operator %s added: log in at https://HUB:PORT/admin/\n", *user)
	return nil
}

// readPassword reads an operator's password (one line of stdin), refuses one shorter than
// minPassword and returns its bcrypt hash.
func readPassword(cmd string, stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("%s: read the password from standard input: %w", cmd, err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if n := utf8.RuneCountInString(pw); n < minPassword {
		return "", fmt.Errorf("%s: the password has %d characters: want %d or more", cmd, n, minPassword)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("%s: %w", cmd, err)
	}
	return string(hash), nil
}

// adminPasswd gives an operator a new password (from standard input, as for admin add), ends
// their sessions and clears their name's lock-out: the way back in for one who forgot it or
// locked themselves out, and the way to shut out whoever learnt the old one.
func adminPasswd(ctx context.Context, h *hub.Hub, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlags("admin passwd")
	user := fs.String("user", "", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *user == "" {
		return adminUsage("admin passwd needs --user NAME")
	}
	if _, ok, err := h.OperatorHash(ctx, *user); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("admin passwd: no operator %q", *user)
	}
	hash, err := readPassword("admin passwd", stdin)
	if err != nil {
		return err
	}
	if err := h.SetOperatorPassword(ctx, *user, hash); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "operator %s has a new password; their sessions ended and their lock-out cleared\n", *user)
	return nil
}

func serve(ctx context.Context, h *hub.Hub, listen string, push, maxSkew time.Duration, stdout io.Writer, logger *slog.Logger) error {
	dash, err := dashboard.New(h, dashboard.Options{PushInterval: push, MaxSkew: maxSkew, Logger: logger})
	if err != nil {
		return err
	}
	// Bind first: "serving" is said only once kiosks can connect, with the address really bound
	// (the port of --listen :0 too).
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("onepass-hub serving", "listen", l.Addr().String(), "data", h.Dir(), "version", version)
	fmt.Fprintf(stdout, "onepass hub: https://%s\n", l.Addr())
	return h.ServeWith(ctx, l, dashboard.Mount(dash))
}

func token(ctx context.Context, h *hub.Hub, args []string, stdout io.Writer) error {
	fs := newFlags("token")
	hall := fs.String("hall", "", "")
	lanes := fs.Int("lanes", 1, "")
	valid := fs.Duration("valid", 24*time.Hour, "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *hall == "" {
		return adminUsage("token needs --hall")
	}
	tok, err := h.NewToken(ctx, *hall, *lanes, *valid)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func statusSet(ctx context.Context, h *hub.Hub, args []string, stdout io.Writer) error {
	fs := newFlags("status set")
	id := fs.String("id", "", "")
	st := fs.String("status", "", "")
	typ := fs.Int("type", int(identity.CertResident), "")
	reason := fs.String("reason", "", "")
	valid := fs.Duration("valid", 0, "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" || *st == "" {
		return adminUsage("status set needs --id and --status")
	}
	if *id == "-" {
		// From standard input, so the number stays out of shell history and the process list.
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("status set: read the ID number from standard input: %w", err)
		}
		*id = strings.TrimSpace(line)
	}
	status, err := hub.ParseStatus(*st)
	if err != nil {
		return adminUsage(err.Error())
	}
	seq, err := h.SetStatus(ctx, hub.PersonRef{Type: identity.CertType(*typ), Number: *id}, status, *reason, *valid)
	if err != nil {
		return err
	}
	// The number is never echoed in full.
	fmt.Fprintf(stdout, "%s: %s (status sequence %d)\n", identity.MaskID(strings.ToUpper(*id)), *st, seq)
	return nil
}

// readPublicKey takes an issuer key file: a PKCS #8 private key PEM (its public half is used), a
// "PUBLIC KEY" PEM, or base64 SubjectPublicKeyInfo DER as `code keygen` prints it.
func readPublicKey(path string) (*signing.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		switch blk.Type {
		case "PRIVATE KEY":
			k, err := signing.ParsePrivateKeyPEM(b)
			if err != nil {
				return nil, err
			}
			return k.Public(), nil
		case "PUBLIC KEY":
			return signing.ParsePublicKey(blk.Bytes)
		}
		return nil, fmt.Errorf("%s: PEM block %q is not a key", path, blk.Type)
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: neither PEM nor base64 SubjectPublicKeyInfo", path)
	}
	return signing.ParsePublicKey(der)
}

func parseTime(name, s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, adminUsage(fmt.Sprintf("--%s %q: want RFC 3339 time", name, s))
	}
	return t, nil
}

func issuerAdd(ctx context.Context, h *hub.Hub, args []string, stdout io.Writer) error {
	fs := newFlags("issuer add")
	id := fs.String("id", "", "")
	keyFile := fs.String("key", "", "")
	name := fs.String("name", "", "")
	region := fs.String("region", "", "")
	classes := fs.String("classes", "", "")
	notBefore := fs.String("not-before", "", "")
	notAfter := fs.String("not-after", "", "")
	years := fs.Int("years", 2, "")
	bt := fs.Uint("bind-time", 1, "")
	bm := fs.Uint("bind-memory-kib", 8192, "")
	bp := fs.Uint("bind-threads", 1, "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" || *keyFile == "" {
		return adminUsage("issuer add needs --id and --key")
	}
	pub, err := readPublicKey(*keyFile)
	if err != nil {
		return err
	}
	nb, err := parseTime("not-before", *notBefore, time.Now().Add(-time.Hour))
	if err != nil {
		return err
	}
	na, err := parseTime("not-after", *notAfter, nb.AddDate(*years, 0, 0))
	if err != nil {
		return err
	}
	iss := signing.Issuer{ID: *id, Name: *name, Region: *region,
		Binding: signing.BindParams{Time: uint32(*bt), MemoryKiB: uint32(*bm), Threads: uint8(*bp)},
		Keys:    []signing.IssuerKey{{Alg: pub.Alg(), PublicKey: pub.SPKI(), NotBefore: nb, NotAfter: na}}}
	if *classes != "" {
		for c := range strings.SplitSeq(*classes, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(c))
			if err != nil {
				return adminUsage(fmt.Sprintf("--classes %q: want numbers like 1,2,3", *classes))
			}
			iss.Classes = append(iss.Classes, v)
		}
	}
	seq, err := h.AddIssuer(ctx, iss)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "issuer %s key %s (%s) added; trust list seq %d\n", *id, base64.StdEncoding.EncodeToString(pub.KID()), pub.Alg(), seq)
	return nil
}

func issuerRevoke(ctx context.Context, h *hub.Hub, args []string, stdout io.Writer) error {
	fs := newFlags("issuer revoke")
	id := fs.String("id", "", "")
	kid := fs.String("kid", "", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return adminUsage("issuer revoke needs --id")
	}
	var k []byte
	if *kid != "" {
		var err error
		if k, err = base64.StdEncoding.DecodeString(*kid); err != nil {
			return adminUsage("--kid: want base64")
		}
	}
	seq, err := h.RevokeIssuer(ctx, *id, k)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trust list seq %d published without it\n", seq)
	return nil
}

func codeRevoke(ctx context.Context, h *hub.Hub, args []string, stdout io.Writer) error {
	fs := newFlags("code revoke")
	cid := fs.String("cid", "", "")
	valid := fs.Duration("valid", 7*24*time.Hour, "")
	if err := parse(fs, args); err != nil {
		return err
	}
	b, err := hex.DecodeString(*cid)
	if err != nil {
		b, err = base64.StdEncoding.DecodeString(*cid)
	}
	if err != nil || len(b) != wire.CodeIDSize {
		return adminUsage("code revoke needs --cid: 16 bytes in hex or base64")
	}
	seq, err := h.RevokeCode(ctx, b, time.Now().Add(*valid))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "code %x revoked (revoked stream seq %d)\n", b, seq)
	return nil
}

func policySet(ctx context.Context, h *hub.Hub, args []string, stdout io.Writer) error {
	fs := newFlags("policy set")
	fever := fs.Float64("fever-c", 0, "")
	maxAge := fs.String("status-max-age", "", "")
	hardAge := fs.String("hard-max-age", "", "")
	absent := fs.String("absent-status", "", "")
	from := fs.String("valid-from", "", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	vf, err := parseTime("valid-from", *from, time.Time{})
	if err != nil {
		return err
	}
	v, err := h.SetPolicy(ctx, wire.PolicyVersion{ValidFrom: vf, FeverC: *fever, StatusMaxAge: *maxAge, HardMaxAge: *hardAge, AbsentStatus: *absent})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "policy version %d published\n", v)
	return nil
}

func devicesList(ctx context.Context, h *hub.Hub, args []string, stdout io.Writer) error {
	fs := newFlags("devices list")
	asJSON := fs.Bool("json", false, "")
	if err := parse(fs, args); err != nil {
		return err
	}
	ds, err := h.Devices(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, d := range ds {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
		return nil
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tHALL\tLANES\tLAST SEEN\tOUTBOX\tLAG\tSOFTWARE\tSTATE\tPARTS\tPAPER\tREPLICA\tSKEW")
	for _, d := range ds {
		seen, lag, state := "never", "-", "ok"
		if !d.LastSeen.IsZero() {
			seen = now.Sub(d.LastSeen).Round(time.Second).String() + " ago"
		}
		if !d.OutboxOldest.IsZero() && d.OutboxDepth > 0 {
			lag = now.Sub(d.OutboxOldest).Round(time.Second).String()
		}
		if !d.RevokedAt.IsZero() {
			state = "revoked " + d.RevokedAt.Local().Format("2006-01-02 15:04")
		} else if now.After(d.CertExpires) {
			state = "certificate expired"
		}
		parts, paper, replica, skew := telemetryColumns(d.Telemetry)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Hall, d.Lanes, seen, d.OutboxDepth, lag, d.Software, state,
			parts, paper, replica, skew)
	}
	return tw.Flush()
}

// telemetryColumns sums up a device's latest report: the parts not ok (name:state), the paper,
// the replica's age and the clock skew ("-" until the kiosk measured it); "-" before the first
// report.
func telemetryColumns(t *wire.Telemetry) (parts, paper, replica, skew string) {
	if t == nil {
		return "-", "-", "-", "-"
	}
	var bad []string
	for _, p := range t.Parts {
		if p.State != "ok" && p.State != "not_configured" {
			bad = append(bad, p.Part+":"+p.State)
		}
	}
	parts = "ok"
	if len(bad) > 0 {
		parts = strings.Join(bad, ",")
	}
	replica = "none"
	if t.ReplicaAgeS >= 0 {
		replica = (time.Duration(t.ReplicaAgeS) * time.Second).String()
	}
	skew = "-" // not measured yet: no skew to show, not a skew of 0
	if t.SkewMeasured() {
		skew = (time.Duration(t.ClockSkewMs) * time.Millisecond).String()
	}
	return parts, t.Paper, replica, skew
}

func visitsExport(ctx context.Context, h *hub.Hub, args []string, stdout io.Writer) error {
	fs := newFlags("visits export")
	format := fs.String("format", "csv", "")
	since := fs.String("since", "", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	t, err := parseTime("since", *since, time.Time{})
	if err != nil {
		return err
	}
	switch *format {
	case "jsonl":
		enc := json.NewEncoder(stdout)
		return h.Visits(ctx, t, func(v hub.VisitRecord) error { return enc.Encode(v) })
	case "csv":
		w := csv.NewWriter(stdout)
		// New columns go at the end: scripts reading the old ones by position keep working.
		w.Write([]string{"id", "device", "received_at", "at", "lane", "method", "person_key", "sealed_id", "masked_name", "temp_c", "outcome", "reason",
			"staff_id", "overrides", "note"})
		err := h.Visits(ctx, t, func(v hub.VisitRecord) error {
			temp := ""
			if v.TempC != nil {
				temp = strconv.FormatFloat(*v.TempC, 'f', 1, 64)
			}
			return w.Write([]string{v.ID, v.Device, v.ReceivedAt.Format(time.RFC3339Nano), v.At.Format(time.RFC3339Nano), v.Lane, v.Method,
				base64.StdEncoding.EncodeToString(v.PersonKey), base64.StdEncoding.EncodeToString(v.SealedID), v.MaskedName, temp, v.Outcome, v.Reason,
				v.StaffID, v.Overrides, v.Note})
		})
		w.Flush()
		return errors.Join(err, w.Error())
	}
	return adminUsage(fmt.Sprintf("visits export --format %q: want csv or jsonl", *format))
}
