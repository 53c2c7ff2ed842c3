// Command onepassd is the kiosk daemon: it opens the parts the configuration names, runs the pass
// flow of the lane, writes every visit to the local database and serves the kiosk screen.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/cmd/internal/config"
	"onepass/device"
	"onepass/drivers/sim"
	"onepass/kiosk"
	"onepass/sync/store"
	"onepass/ui"
)

// version is set at build time: -ldflags "-X main.version=…".
var version = "dev"

const usage = `onepassd — the onepass kiosk daemon

Usage: onepassd [--config FILE] [--data DIR] [--listen ADDR] [--sim]

Flags:
  --config FILE  TOML configuration (default %s; optional unless given)
  --data DIR     data directory holding onepass.db and keys (overrides "data", default /var/lib/onepass)
  --listen ADDR  address of the kiosk screen and local API (overrides "listen", default 127.0.0.1:8080)
  --sim          simulate every part the configuration does not name explicitly, and act as the
                 platform for the status replica; drive it with "onepassctl sim …"
  --version      print the version and exit

The daemon logs to stderr and stops cleanly on SIGTERM or SIGINT.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("onepassd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, usage, config.DefaultPath) }
	cfgPath := fs.String("config", "", "")
	data := fs.String("data", "", "")
	listen := fs.String("listen", "", "")
	simulate := fs.Bool("sim", false, "")
	showVersion := fs.Bool("version", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "onepassd", version)
		return 0
	}
	path, required := config.DefaultPath, false
	if *cfgPath != "" {
		path, required = *cfgPath, true
	}
	cfg, err := config.Load(path, required)
	if err != nil {
		fmt.Fprintln(stderr, "onepassd: refusing to start:", err)
		return 2
	}
	if *data != "" {
		cfg.Data = *data
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	logger := newLogger(stderr, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, cfg, *simulate, stdout, logger); err != nil {
		logger.Error("onepassd stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by config
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// serve assembles the kiosk and runs it until ctx is done.
func serve(ctx context.Context, cfg config.Config, simulate bool, stdout io.Writer, logger *slog.Logger) error {
	clock := clockwork.NewRealClock()
	kcfg := cfg.Kiosk()
	if simulate && !cfg.Defined("policy", "absent_status") {
		// The simulated platform publishes only exceptions (red, yellow), so an unknown person is green.
		kcfg.Policy.AbsentStatus = "green"
	}

	db, logHealth := openStore(ctx, cfg.Data, logger)
	if db != nil {
		defer db.Close()
	}
	keys, err := loadKeys(filepath.Join(cfg.Data, "keys"), simulate)
	if err != nil {
		logger.Warn("deployment keys unavailable: cards are checked without the status replica", "err", err)
	}

	var rig *sim.Rig
	if simulate {
		rig = sim.NewRig()
	}
	parts, err := openParts(ctx, cfg, rig)
	if err != nil {
		return err
	}
	defer closeParts(parts, logger)

	opts := kiosk.Options{Keys: keys, Clock: clock, Logger: logger, LogHealth: logHealth}
	if db != nil {
		opts.Log = db
		opts.Replica = kiosk.StoreReplica{Store: db, Clock: clock}
	} else {
		opts.Log = brokenLog{logHealth.Reason}
	}
	lane := kiosk.New(kcfg, parts, opts)

	extra := map[string]http.Handler{}
	if rig != nil {
		extra["/api/sim/"] = rig.Handler()
		if db != nil {
			extra["POST /api/sim/status"] = simStatusHandler(db, keys, clock)
		}
	}
	srv := ui.New(lane, ui.Options{Addr: cfg.Listen, Extra: extra, Logger: logger})
	l, err := srv.Listen()
	if err != nil {
		return err
	}
	url := "http://" + l.Addr().String() + "/"
	fmt.Fprintln(stdout, "onepass kiosk screen:", url)
	logger.Info("onepassd started", "version", version, "url", url, "data", cfg.Data, "sim", simulate)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	go func() { errc <- srv.Serve(ctx, l) }()
	go func() { errc <- lane.Run(ctx) }()
	if simulate && db != nil {
		go func() { errc <- runSimPlatform(ctx, db, clock, logger) }()
	}
	n := 2
	if simulate && db != nil {
		n = 3
	}
	var first error
	for range n {
		err := <-errc
		if err != nil && first == nil {
			first = err
		}
		cancel() // one part stopping stops the daemon; systemd restarts it
	}
	logger.Info("onepassd stopped cleanly")
	return first
}

// openStore opens the database. A data directory that cannot be written does not stop the daemon:
// it runs, says why on the screen and in /healthz, and refuses to show results it cannot log.
func openStore(ctx context.Context, dir string, logger *slog.Logger) (*store.Store, device.Health) {
	fail := func(err error) (*store.Store, device.Health) {
		logger.Error("cannot log visits: the kiosk will refuse passes until the data directory is fixed", "dir", dir, "err", err)
		return nil, device.Health{State: device.Down, Reason: err.Error()}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fail(fmt.Errorf("data directory: %w", err))
	}
	db, err := store.Open(ctx, filepath.Join(dir, "onepass.db"))
	if err != nil {
		return fail(err)
	}
	return db, device.Healthy(time.Now())
}

// brokenLog stands in for a store that could not be opened.
type brokenLog struct{ reason string }

func (b brokenLog) Append(context.Context, *store.Visit) error {
	return errors.New("visit log unavailable: " + b.reason)
}
