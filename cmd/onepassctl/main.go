// Command onepassctl is the technicians' and staff's command line: a thin client of onepassd's
// local API, so everything it does is also an API call the UI and tests can make.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"onepass/device"
	"onepass/kiosk"
	"onepass/ui"
)

var version = "dev"

const usage = `onepassctl — control and inspect a onepass kiosk

Usage: onepassctl [--addr URL] COMMAND [ARGS]

Commands:
  status                          the daemon's version and uptime, the lane's state, the health of
                                  every part, the last sync and the outbox depth
  selftest [--sim] [--json] [--config FILE] [--data DIR]
                                  test every configured part, the database and (when sync is
                                  configured) the hub, the clock and the certificate, without the
                                  daemon (stop it first: it holds the devices); exit 1 on a failure
  enroll --hub URL --token T      enroll this kiosk with the platform hub (one-time token from
                                  onepass-hub token); the daemon keeps the device key (0600) and syncs
  sync [now] [--json]             sync with the hub: last pull/push, replica age, outbox, clock skew;
                                  "now" pulls and pushes at once
  sync requeue [--data DIR] [ID…]  put records the platform refused (quarantined) back in the
                                  outbox, all of them without IDs; no daemon needed
  sim card --id ID --name NAME    place an ID card on the simulated reader
           [--type resident|foreigner|hkmotw] [--valid-to YYYYMMDD|长期]
  sim remove                      take the card off the simulated reader
  sim temp C                      a person with body temperature C steps in front (the emulated
                                  sensor sees the cooler forehead; the screen shows C)
  sim leave                       the person steps away
  sim code TEXT                   show a QR code with this text to the simulated camera
  sim code --image FILE           show a picture (a printed code, a phone screen) to the simulated camera
  sim set-status --id ID --status green|yellow|red|unknown
                                  the simulated platform sets a person's status
  sim fault PART ok|degraded|down [REASON]
                                  set a simulated part's health (reader, thermometer, camera, printer, signal)
  sim-reader --pty [--link PATH] [--id ID --name NAME [--type T]] [--baud N] [--paced]
             [--sam-delay D] [--read-delay D]
                                  play a GA 467 ID card reader on a pseudo-terminal until
                                  interrupted (no daemon needed): prints the tty to point a driver
                                  at; type card/remove/fault/status commands (help lists them)
  scan FILE… [--json] [--models DIR|none]
                                  decode the QR codes in still images or videos with the kiosk
                                  camera's pipeline (no daemon needed): one line per file with the
                                  texts and the decode time; --json: {"file","codes","ms"} per line
  trust import FILE [--config FILE] [--data DIR]
                                  store a signed trust list of health-code issuers, checked against
                                  the pinned [trust] root key (no daemon needed)
  thermo emissivity [--bus B] [--address A] [--set E]
                                  read (or write, erase-then-write) the MLX90614's emissivity on
                                  the I2C bus directly (no daemon; default /dev/i2c-1, 0x5A)
  thermo read [--bus B] [--address A] [--samples N] [--interval D] [--reference C]
                                  calibration readings straight from the sensor: medians of object
                                  and ambient; with a reference source's C, the offset_c to set
  ticket issue --service A [--priority elderly|disabled|pregnant]
                                  issue (and print) a ticket, as the staff console does
  ticket call|recall|served|no-show --counter N
                                  call the next ticket to counter N, call its ticket again, or
                                  close it (calling the next one closes the current as served)
  ticket transfer --counter N --service B
                                  send counter N's ticket to another service's queue
  ticket checkin CODE             check in a booked appointment (its APPT1:… code)
  queue                           the queue: waiting per service, counters, last calls, printer
  staff add --id ID --name NAME [--counter N] [--file FILE]
                                  read a PIN (4–12 digits) on stdin and write the staff entry with
                                  its bcrypt hash to FILE (the [staff] staff_file), or print it
  sim appointment --service A [--in 10m] [--ref REF]
                                  the simulated booking system signs an appointment code
  sim printer paper ok|near_end|out | cover open|closed | mute on|off
                                  change the simulated ticket printer
  version                         print the version

Flags:
  --addr URL   onepassd's local API (default $ONEPASS_ADDR or http://127.0.0.1:8080)

Exit status: 0 done, 1 the daemon refused or could not be reached, 2 bad usage.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("onepassctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	def := os.Getenv("ONEPASS_ADDR")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	addr := fs.String("addr", def, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	c := &client{base: strings.TrimRight(*addr, "/"), http: &http.Client{Timeout: 10 * time.Second}}
	err := dispatch(c, fs.Args(), stdout)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "onepassctl: %s\n\n", ue.msg)
		fmt.Fprint(stderr, usage)
		return 2
	default:
		fmt.Fprintln(stderr, "onepassctl:", err)
		return 1
	}
}

func dispatch(c *client, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command"}
	}
	switch args[0] {
	case "status":
		return status(c, stdout)
	case "selftest":
		return selftestCommand(args[1:], stdout)
	case "thermo":
		return thermoCommand(args[1:], stdout)
	case "scan":
		return scanCommand(args[1:], stdout)
	case "trust":
		return trustCommand(args[1:], stdout)
	case "enroll":
		return enrollCommand(c, args[1:], stdout)
	case "sync":
		return syncCommand(c, args[1:], stdout)
	case "version":
		fmt.Fprintln(stdout, "onepassctl", version)
		return nil
	case "ticket", "queue", "staff":
		return queueCommand(c, args, stdout) // ticket.go
	case "sim":
		if len(args) > 1 && (args[1] == "appointment" || args[1] == "printer") {
			return simQueueCommand(c, args[1:], stdout) // ticket.go
		}
		return simCommand(c, args[1:])
	case "sim-reader":
		return simReaderCLI(args[1:], stdout)
	}
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

func simCommand(c *client, args []string) error {
	if len(args) == 0 {
		return usageError{"sim: which part? card, remove, temp, leave, code, set-status, fault"}
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
			return usageError{"sim card: " + err.Error()}
		}
		if *id == "" || *name == "" {
			return usageError{"sim card needs --id and --name"}
		}
		return c.post("/api/sim/card", map[string]string{"id": *id, "name": *name, "type": *typ, "valid_to": *validTo})
	case "remove", "leave":
		return c.post("/api/sim/"+args[0], struct{}{})
	case "temp":
		if len(args) != 2 {
			return usageError{"sim temp needs one temperature in °C, e.g. sim temp 36.6"}
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(args[1], "C"), 64)
		if err != nil {
			return usageError{fmt.Sprintf("sim temp: %q is not a number", args[1])}
		}
		return c.post("/api/sim/temp", map[string]float64{"c": v})
	case "code":
		if len(args) == 3 && args[1] == "--image" {
			return c.postImage("/api/sim/code/image", args[2])
		}
		if len(args) != 2 {
			return usageError{"sim code needs the code's text as one argument (quote it), or --image FILE"}
		}
		return c.post("/api/sim/code", map[string]string{"text": args[1]})
	case "set-status":
		fs := flag.NewFlagSet("sim set-status", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		id := fs.String("id", "", "")
		st := fs.String("status", "", "")
		if err := fs.Parse(args[1:]); err != nil || *id == "" || *st == "" {
			return usageError{"sim set-status needs --id and --status"}
		}
		return c.post("/api/sim/status", map[string]string{"id": *id, "status": *st})
	case "fault":
		if len(args) < 3 {
			return usageError{"sim fault needs PART and STATE"}
		}
		return c.post("/api/sim/fault", map[string]string{"part": args[1], "state": args[2], "reason": strings.Join(args[3:], " ")})
	}
	return usageError{fmt.Sprintf("sim: unknown command %q", args[0])}
}

func status(c *client, stdout io.Writer) error {
	var st ui.Status
	err := c.get("/api/status", &st)
	if errors.Is(err, errNotFound) {
		// A daemon older than /api/status: its lane view carries state and health.
		var v kiosk.View
		if err := c.get("/api/state", &v); err != nil {
			return err
		}
		st = ui.Status{Lane: v.Lane, State: string(v.State), Parts: v.Health}
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

// errNotFound is a route this daemon does not have (an older version).
var errNotFound = errors.New("onepassd does not know this request (older version?)")

type client struct {
	base string
	http *http.Client
}

func (c *client) do(method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("bad --addr: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach onepassd at %s (is it running? see --addr): %w", c.base, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode == http.StatusNotFound && strings.HasPrefix(path, "/api/sim/") {
			return nil, errors.New("onepassd is not running with --sim")
		}
		if resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%w: %s", errNotFound, path)
		}
		return nil, fmt.Errorf("onepassd: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp, nil
}

func (c *client) post(path string, body any) error {
	resp, err := c.do(http.MethodPost, path, body)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (c *client) get(path string, v any) error {
	resp, err := c.do(http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("onepassd answered %s with something else than JSON: %w", path, err)
	}
	return nil
}
