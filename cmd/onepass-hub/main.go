// Command onepass-hub is the reference platform server (sync/hub) and its admin commands.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"onepass/sync/hub"
)

// version is set at build time: -ldflags "-X main.version=…".
var version = "dev"

const usage = `onepass-hub — the onepass reference platform

Usage: onepass-hub [--data DIR] [--db URL] COMMAND [ARGS]

Commands:
  init keys [--host NAME,IP,…]      create the root, device-CA, TLS, batch and platform keys;
                                    prints the root key for the kiosks' [trust] root; with
                                    --db also creates the database's tables
  root                              print the root key (base64 SubjectPublicKeyInfo DER)
  serve [--listen ADDR] [--max-skew D] [--push-interval D]
                                    serve kiosks over mutual TLS (default :8443); records dated
                                    more than --max-skew (the kiosks' [trust] max_skew, default
                                    2m) and a day ahead of the hub's clock are refused; the
                                    operators' dashboard at https://HOST:PORT/admin/ flags a
                                    kiosk silent for 3 × --push-interval (the kiosks' [sync]
                                    push_interval, default 5s)
  token --hall HALL [--lanes N] [--valid 24h]
                                    make a one-time enrollment token
  status set --id ID|- --status green|yellow|red|unknown [--type 10] [--reason TEXT] [--valid 24h]
                                    set a person's status (stored as person key + sealed ID only);
                                    --id - reads the number from standard input
  issuer add --id ID --key FILE [--name NAME] [--region CODE] [--classes 1,2,3]
             [--not-before TIME] [--not-after TIME | --years 2]
                                    add a code issuer (or a key of one) to the trust list
  issuer revoke --id ID [--kid BASE64]
                                    remove an issuer (or one of its keys) from the trust list
  code revoke --cid HEX|BASE64 [--valid 7d]
                                    revoke a health code (until it would have expired anyway)
  code …                            JKM1 health codes: issue, keygen, trust-list (onepass-hub code help)
  policy set [--fever-c C] [--status-max-age D] [--hard-max-age D] [--absent-status manual|green]
             [--valid-from TIME]    publish a new hall policy version
  keys rotate                       start a new deployment-key epoch (every person re-keyed)
  admin add --user NAME             add an operator of the dashboard (/admin/); the password
                                    (12 characters or more) is read from standard input
  admin passwd --user NAME          give an operator a new password (12+ characters, read from
                                    standard input); ends their sessions, clears their lock-out
  admin list                        the operators
  admin remove --user NAME          remove an operator and end their sessions
  devices list [--json]             enrolled devices: last seen, outbox, lag, telemetry
  devices revoke ID                 refuse a device's certificate from its next request on
  visits export [--format csv|jsonl] [--since TIME]
                                    every received visit on stdout
  version                           print the version

Flags:
  --data DIR   the hub's data directory (default $ONEPASS_HUB_DATA or /var/lib/onepass-hub):
               its keys, and the SQLite database hub.db unless --db names another
  --db URL     the hub's database (default $ONEPASS_HUB_DB, else DIR/hub.db): a PostgreSQL
               URL, postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…] or
               postgres:///DB?host=/run/postgresql, which several serve replicas may share;
               migrations are applied when a command opens it

TIME is RFC 3339 (2026-12-01T08:00:00+08:00). Exit status: 0 done, 1 failed, 2 bad usage.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	dataDir := os.Getenv("ONEPASS_HUB_DATA")
	if dataDir == "" {
		dataDir = "/var/lib/onepass-hub"
	}
	dbURL := os.Getenv("ONEPASS_HUB_DB")
	// The global flags, before the command, in any order; a flag wins over its variable.
	for len(args) > 0 {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		if !strings.HasPrefix(args[0], "-") || (name != "data" && name != "db") {
			break
		}
		if !hasVal {
			if len(args) < 2 {
				what := map[string]string{"data": "a directory", "db": "a database URL"}[name]
				fmt.Fprintf(stderr, "onepass-hub: --%s needs %s\n\n%s", name, what, usage)
				return 2
			}
			val, args = args[1], args[1:]
		}
		args = args[1:]
		if name == "data" {
			dataDir = val
		} else {
			dbURL = val
		}
	}
	if err := hub.CheckDB(dbURL); err != nil {
		fmt.Fprintf(stderr, "onepass-hub: --db: %v\n", err)
		return 2
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if wantsHelp(args[1:]) {
		// Help needs no data directory: answer before any command opens one.
		if args[0] == "code" && (len(args) < 2 || args[1] != "revoke") {
			fmt.Fprint(stdout, codeUsage)
		} else {
			fmt.Fprint(stdout, commandUsage(args[0]))
		}
		return 0
	}
	switch args[0] {
	case "code":
		if len(args) > 1 && args[1] == "revoke" {
			return admin(dataDir, dbURL, args, stdout, stderr)
		}
		return codeCommand(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "onepass-hub", version)
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "init", "root", "serve", "token", "status", "issuer", "policy", "keys", "devices", "visits", "admin":
		return admin(dataDir, dbURL, args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "onepass-hub: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// wantsHelp reports a -h, -help or --help among a command's arguments.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

// commandUsage is the usage of one command: its lines of the command list and the flags; the
// whole usage for a command it does not know.
func commandUsage(cmd string) string {
	var b strings.Builder
	lines := strings.Split(usage, "\n")
	in := false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "  "+cmd+" ") || l == "  "+cmd:
			in = true
		case in && strings.HasPrefix(l, "    "): // a continuation of the command's lines
		default:
			in = false
		}
		if in {
			b.WriteString(l + "\n")
		}
	}
	if b.Len() == 0 {
		return usage
	}
	return "Usage: onepass-hub [--data DIR] [--db URL] " + cmd + " …\n\n" + b.String() + usage[strings.Index(usage, "\nFlags:"):]
}

func cutFlag(arg, prefix string) (string, bool) {
	if len(arg) > len(prefix) && arg[:len(prefix)] == prefix {
		return arg[len(prefix):], true
	}
	return "", false
}
