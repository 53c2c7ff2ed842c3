// Command onepassctl is the technicians' and staff's command line: a thin client of onepassd's
// local API (ui/api), so everything it does is also an API call the UI and tests can make. It
// links none of the daemon's heavy dependencies and starts at once; the few commands that work
// on the kiosk without the daemon (ctl.Local: selftest, scan, thermo, trust, sync requeue, staff
// add) run in onepassd's internal subcommand (exec.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"onepass/cmd/internal/ctl"
	"onepass/device"
	"onepass/ui/api"
)

var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// usageError is a command typed wrongly (exit 2 with the usage).
type usageError = ctl.UsageError

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("onepassctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, ctl.Usage) }
	addr := fs.String("addr", "", "")
	socket := fs.String("socket", "", "")
	data := fs.String("data", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if ctl.Local(fs.Args()) {
		if *data != "" {
			// The global --data names the daemon's socket; a local command reads its own --data.
			return ctl.Exit(usageError{Msg: fmt.Sprintf("%s works without the daemon: put --data after the command (onepassctl %s … --data DIR)", fs.Arg(0), fs.Arg(0))}, stderr)
		}
		return runLocal(fs.Args(), os.Stdin, stdout, stderr) // exec.go
	}
	c, err := api.New(target(*addr, *socket, *data, os.Getenv("ONEPASS_ADDR"), socketExists))
	if err != nil {
		return ctl.Exit(err, stderr)
	}
	return ctl.Exit(dispatch(context.Background(), c, fs.Args(), stdout), stderr)
}

// target is where the daemon is reached, first match wins: --addr URL (HTTP, as before sockets);
// --socket PATH; --data DIR, whose onepassd.sock a daemon run with --sim serves; $ONEPASS_ADDR;
// the packaged daemon's socket when it is there; else HTTP on the default address, so a daemon
// without a socket is still reached.
func target(addr, socket, data, env string, exists func(string) bool) string {
	switch {
	case addr != "":
		return addr
	case socket != "":
		return "unix:" + socket
	case data != "":
		return "unix:" + filepath.Join(data, api.SocketName)
	case env != "":
		return env
	case exists(api.DefaultSocket):
		return "unix:" + api.DefaultSocket
	}
	return api.DefaultAddr
}

// socketExists reports whether path is there for this user: a socket behind a directory it may
// not enter counts as absent, and HTTP is tried instead.
func socketExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Type() == fs.ModeSocket
}

func dispatch(ctx context.Context, c *api.Client, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{Msg: "no command"}
	}
	switch args[0] {
	case "status":
		return status(ctx, c, stdout)
	case "enroll":
		return enrollCommand(ctx, c, args[1:], stdout)
	case "sync":
		return syncCommand(ctx, c, args[1:], stdout)
	case "version":
		fmt.Fprintln(stdout, "onepassctl", version)
		return nil
	case "ticket", "queue":
		return queueCommand(ctx, c, args, stdout) // ticket.go
	case "sim":
		if len(args) > 1 && (args[1] == "appointment" || args[1] == "printer") {
			return simQueueCommand(ctx, c, args[1:], stdout) // ticket.go
		}
		return simCommand(ctx, c, args[1:])
	case "sim-reader":
		return simReaderCLI(args[1:], stdout)
	}
	return usageError{Msg: fmt.Sprintf("unknown command %q", args[0])}
}

func simCommand(ctx context.Context, c *api.Client, args []string) error {
	if len(args) == 0 {
		return usageError{Msg: "sim: which part? card, remove, temp, leave, code, set-status, fault"}
	}
	switch args[0] {
	case "card":
		fs := flag.NewFlagSet("sim card", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		id := fs.String("id", "", "")
		name := fs.String("name", "", "")
		typ := fs.String("type", "", "")
		validTo := fs.String("valid-to", "", "")
		if err := fs.Parse(args[1:]); err != nil {
			return usageError{Msg: "sim card: " + err.Error()}
		}
		if *id == "" || *name == "" {
			return usageError{Msg: "sim card needs --id and --name"}
		}
		return c.SimCard(ctx, api.CardRequest{ID: *id, Name: *name, Type: *typ, ValidTo: *validTo})
	case "remove":
		return c.SimRemove(ctx)
	case "leave":
		return c.SimLeave(ctx)
	case "temp":
		if len(args) != 2 {
			return usageError{Msg: "sim temp needs one temperature in °C, e.g. sim temp 36.6"}
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(args[1], "C"), 64)
		if err != nil {
			return usageError{Msg: fmt.Sprintf("sim temp: %q is not a number", args[1])}
		}
		return c.SimTemp(ctx, v)
	case "code":
		if len(args) == 3 && args[1] == "--image" {
			b, err := os.ReadFile(args[2])
			if err != nil {
				return err
			}
			return c.SimCodeImage(ctx, b)
		}
		if len(args) != 2 {
			return usageError{Msg: "sim code needs the code's text as one argument (quote it), or --image FILE"}
		}
		return c.SimCode(ctx, args[1])
	case "set-status":
		fs := flag.NewFlagSet("sim set-status", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		id := fs.String("id", "", "")
		st := fs.String("status", "", "")
		if err := fs.Parse(args[1:]); err != nil || *id == "" || *st == "" {
			return usageError{Msg: "sim set-status needs --id and --status"}
		}
		return c.SimSetStatus(ctx, api.SimStatusRequest{ID: *id, Status: *st})
	case "fault":
		if len(args) < 3 {
			return usageError{Msg: "sim fault needs PART and STATE"}
		}
		return c.SimFault(ctx, api.FaultRequest{Part: args[1], State: device.HealthState(args[2]), Reason: strings.Join(args[3:], " ")})
	}
	return usageError{Msg: fmt.Sprintf("sim: unknown command %q", args[0])}
}

func status(ctx context.Context, c *api.Client, stdout io.Writer) error {
	st, err := c.Status(ctx)
	if errors.Is(err, api.ErrNotFound) {
		// A daemon older than /api/status: its lane view carries state and health.
		v, err := c.State(ctx)
		if err != nil {
			return err
		}
		st = api.Status{Lane: v.Lane, State: v.State, Parts: v.Health}
	} else if err != nil {
		return err
	}
	if st.Version != "" {
		fmt.Fprintf(stdout, "onepassd %s, up %s, health %s\n", st.Version, time.Duration(st.UptimeS)*time.Second, st.Health)
	}
	fmt.Fprintf(stdout, "lane %s: %s\n", st.Lane, st.State)
	names := make([]string, 0, len(st.Parts))
	for n := range st.Parts {
		names = append(names, n)
	}
	sort.Strings(names)
	bad := false
	for _, n := range names {
		h := st.Parts[n]
		fmt.Fprintf(stdout, "  %-12s %s\n", n, h)
		bad = bad || h.State == device.Down
	}
	if st.Version != "" {
		fmt.Fprintf(stdout, "outbox       %s\n", orNever(st.OutboxDepth, func(n int) string { return fmt.Sprintf("%d waiting for upload", n) }))
		fmt.Fprintf(stdout, "replica age  %s\n", orNever(st.ReplicaAgeS, func(s float64) string { return (time.Duration(s) * time.Second).String() }))
		fmt.Fprintf(stdout, "last sync    %s\n", orNever(st.LastSync, func(t time.Time) string {
			return t.Local().Format(time.DateTime) + " (" + time.Since(t).Round(time.Second).String() + " ago)"
		}))
		for _, p := range st.Problems {
			fmt.Fprintf(stdout, "problem      %s\n", p)
		}
	}
	fmt.Fprintf(stdout, "onepassctl %s\n", version)
	if bad {
		return errors.New("a part is down")
	}
	return nil
}

func orNever[T any](v *T, f func(T) string) string {
	if v == nil {
		return "never"
	}
	return f(*v)
}
