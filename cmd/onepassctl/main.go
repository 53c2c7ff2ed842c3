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
)

var version = "dev"

const usage = `onepassctl — control and inspect a onepass kiosk

Usage: onepassctl [--addr URL] COMMAND [ARGS]

Commands:
  status                          the lane's state, the health of every part
  sim card --id ID --name NAME    place an ID card on the simulated reader
           [--type resident|foreigner|hkmotw] [--valid-to YYYYMMDD|长期]
  sim remove                      take the card off the simulated reader
  sim temp C                      a person with forehead temperature C steps in front
  sim leave                       the person steps away
  sim code TEXT                   show a QR code with this text to the simulated camera
  sim set-status --id ID --status green|yellow|red|unknown
                                  the simulated platform sets a person's status
  sim fault PART ok|degraded|down [REASON]
                                  set a simulated part's health (reader, thermometer, camera, printer, signal)
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
	case "version":
		fmt.Fprintln(stdout, "onepassctl", version)
		return nil
	case "sim":
		return simCommand(c, args[1:])
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
		if len(args) != 2 {
			return usageError{"sim code needs the code's text as one argument (quote it)"}
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
	var v kiosk.View
	if err := c.get("/api/state", &v); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "lane %s: %s", v.Lane, v.State)
	if v.Outcome != "" {
		fmt.Fprintf(stdout, " — %s (%s) %s", v.Outcome, v.Reason, v.TextEn)
	}
	fmt.Fprintln(stdout)
	names := make([]string, 0, len(v.Health))
	for n := range v.Health {
		names = append(names, n)
	}
	sort.Strings(names)
	bad := false
	for _, n := range names {
		h := v.Health[n]
		fmt.Fprintf(stdout, "  %-12s %s\n", n, h)
		bad = bad || h.State == device.Down
	}
	if bad {
		return errors.New("a part is down")
	}
	return nil
}

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
