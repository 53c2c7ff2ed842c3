package local

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"onepass/cmd/internal/ctl"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"onepass/cmd/internal/config"
	"onepass/cmd/internal/selftest"
	"onepass/device"
	"onepass/drivers/sim"
	syncclient "onepass/sync/client"
)

// partKinds are the part sections of the configuration with their registry openers and, for
// --sim, the simulated part that stands in when the section is absent.
var partKinds = []struct {
	section string
	open    func(ctx context.Context, driver string, p device.Params) (device.Part, error)
	sim     func(r *sim.Rig) device.Part
}{
	{"reader", opener(device.OpenCardReader), func(r *sim.Rig) device.Part { return r.Reader }},
	{"thermometer", opener(device.OpenThermometer), func(r *sim.Rig) device.Part { return r.Thermometer }},
	{"camera", opener(device.OpenCodeScanner), func(r *sim.Rig) device.Part { return r.Scanner }},
	{"printer", opener(device.OpenTicketPrinter), func(r *sim.Rig) device.Part { return r.Printer }},
	{"signal", opener(device.OpenSignal), func(r *sim.Rig) device.Part { return r.Signal }},
}

func opener[T device.Part](open func(context.Context, string, device.Params) (T, error)) func(context.Context, string, device.Params) (device.Part, error) {
	return func(ctx context.Context, driver string, p device.Params) (device.Part, error) {
		part, err := open(ctx, driver, p)
		if err != nil {
			return nil, err
		}
		return part, nil
	}
}

// errSelfTestFailed makes the exit status 1 after the report was printed.
var errSelfTestFailed = errors.New("self-test failed")

// selftestCommand runs `onepassctl selftest [--sim] [--json] [--config FILE] [--data DIR]`: it opens
// every configured part itself through the driver registry, so it needs no daemon (and must not
// run beside one that holds the same devices).
func selftestCommand(args []string, version string, stdout io.Writer) error {
	fs := flag.NewFlagSet("selftest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	simulate := fs.Bool("sim", false, "")
	asJSON := fs.Bool("json", false, "")
	cfgPath := fs.String("config", "", "")
	data := fs.String("data", "", "")
	if err := fs.Parse(args); err != nil {
		return ctl.UsageError{Msg: "selftest: " + err.Error()}
	}
	if fs.NArg() > 0 {
		return ctl.UsageError{Msg: fmt.Sprintf("selftest: unexpected argument %q", fs.Arg(0))}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	report, err := runSelfTest(ctx, version, *cfgPath, *data, *simulate)
	if err != nil {
		return err
	}
	if *asJSON {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteTable(stdout)
	}
	if err != nil {
		return err
	}
	if !report.OK {
		var failed []string
		for _, c := range report.Checks {
			if c.State == selftest.Fail {
				failed = append(failed, c.Name)
			}
		}
		return fmt.Errorf("%w: %s", errSelfTestFailed, strings.Join(failed, ", "))
	}
	return nil
}

func runSelfTest(ctx context.Context, version, cfgPath, data string, simulate bool) (selftest.Report, error) {
	cfg, err := config.FromFlags(cfgPath, data)
	if err != nil {
		// A broken configuration is the first thing the technician must see, in the same report.
		return selftest.Report{Version: version, At: time.Now().UTC(), Checks: []selftest.Check{
			{Name: "config", State: selftest.Fail, Detail: err.Error()}}}, nil
	}
	if simulate && data == "" && !cfg.Defined("data") {
		// A simulated kiosk gets a throwaway database, as `onepassd --sim` with a fresh --data.
		dir, err := os.MkdirTemp("", "onepass-selftest-")
		if err != nil {
			return selftest.Report{}, err
		}
		defer os.RemoveAll(dir)
		cfg.Data = dir
	}

	var rig *sim.Rig
	if simulate {
		rig = sim.NewRig()
	}
	var parts []selftest.Part
	hardware := false
	for _, k := range partKinds {
		driver, params := cfg.Part(k.section)
		p := selftest.Part{Name: k.section, Driver: driver}
		switch {
		case driver != "":
			hardware = true
			p.Open = func(ctx context.Context) (device.Part, error) { return k.open(ctx, driver, params) }
		case rig != nil:
			p.Driver = "sim"
			p.Open = func(context.Context) (device.Part, error) { return k.sim(rig), nil }
		}
		parts = append(parts, p)
	}
	if hardware {
		if err := daemonHoldsDevices(cfg.Listen); err != nil {
			return selftest.Report{}, err
		}
	}
	return selftest.Run(ctx, selftest.Options{
		Version:  version,
		Parts:    parts,
		Database: filepath.Join(cfg.Data, "onepass.db"),
		Sync:     syncTarget(cfg),
	}), nil
}

// daemonHoldsDevices refuses to test hardware while onepassd runs: two processes reading one
// serial port each get half the bytes, so both would fail in confusing ways.
func daemonHoldsDevices(listen string) error {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + listen + "/healthz")
	if err != nil {
		return nil // nobody answers: the devices are free
	}
	resp.Body.Close()
	return fmt.Errorf("onepassd is running at %s and holds the devices: stop it first (systemctl stop onepassd), "+
		"or see its view with onepassctl status", listen)
}

// syncTarget gives the sync checks (hub reachability, clock skew, certificate expiry) their
// target: the enrollment in <data>/sync, as the daemon's sync client uses it. Sync counts as
// configured once the kiosk is enrolled or the configuration names a hub.
func syncTarget(cfg config.Config) *selftest.Sync {
	dir := filepath.Join(cfg.Data, "sync")
	var root []byte
	if cfg.Trust.Root != "" {
		var err error
		if root, err = base64.StdEncoding.DecodeString(cfg.Trust.Root); err != nil {
			return &selftest.Sync{Err: fmt.Errorf("trust.root: %w", err)}
		}
	}
	hub := "" // the preferred replica is the one checked
	if r := cfg.Sync.Replicas(); len(r) > 0 {
		hub = r[0]
	}
	p, err := syncclient.LoadProbe(dir, hub, root)
	switch {
	case errors.Is(err, syncclient.ErrNotEnrolled) && hub == "":
		return nil
	case err != nil:
		return &selftest.Sync{Err: err}
	}
	return &selftest.Sync{HubURL: p.Hub, TLS: p.TLS, Cert: p.Cert, MaxSkew: cfg.Trust.MaxSkew.Duration}
}
