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
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"github.com/jonboulle/clockwork"
	"golang.org/x/sync/errgroup"

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

Usage: onepassd [--config FILE] [--data DIR] [--listen ADDR] [--socket PATH] [--sim]

Flags:
  --config FILE  TOML configuration (default %s; optional unless given)
  --data DIR     data directory holding onepass.db and keys (overrides "data", default /var/lib/onepass)
  --listen ADDR  address of the kiosk screen and local API (overrides "listen", default 127.0.0.1:8080);
                 loopback only (127.0.0.1, ::1, localhost): the API has no login. The staff
                 console and hall screen reach the LAN through [staff] listen
  --socket PATH  Unix socket of the local API for onepassctl (default /run/onepass/onepassd.sock,
                 with --sim DIR/onepassd.sock in the data directory): mode 0660, group onepass.
                 A default one that cannot be created leaves the API on HTTP alone
  --sim          simulate every part the configuration does not name explicitly, and run an
                 embedded hub (the platform, over HTTPS with mutual TLS on loopback) unless
                 [sync] hub or hubs names real ones; drive it with "onepassctl sim …"
  --version      print the version and exit

The daemon logs to stderr and stops cleanly on SIGTERM or SIGINT.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if code, ok := runCtl(args, stdout, stderr); ok { // onepassctl's local commands (ctl.go)
		return code
	}
	fs := flag.NewFlagSet("onepassd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, usage, config.DefaultPath) }
	cfgPath := fs.String("config", "", "")
	data := fs.String("data", "", "")
	listen := fs.String("listen", "", "")
	socket := fs.String("socket", "", "")
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
	cfg, err := config.FromFlags(*cfgPath, *data)
	if err != nil {
		fmt.Fprintln(stderr, "onepassd: refusing to start:", err)
		return 2
	}
	if *listen != "" {
		if err := config.LoopbackListen(*listen); err != nil {
			fmt.Fprintln(stderr, "onepassd: refusing to start: --listen:", err)
			return 2
		}
		cfg.Listen = *listen
	}
	logger := newLogger(stderr, cfg.LogLevel)
	slog.SetDefault(logger) // drivers log through the default logger; keep one format on stderr
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	sock, explicit := socketPath(*socket, *simulate, cfg.Data)
	if err := serve(ctx, cfg, *simulate, socketFlag{sock, explicit}, stdout, logger); err != nil {
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
func serve(ctx context.Context, cfg config.Config, simulate bool, sock socketFlag, stdout io.Writer, logger *slog.Logger) error {
	clock := clockwork.NewRealClock()
	started := clock.Now()
	kcfg := cfg.Kiosk()
	if simulate && !cfg.Defined("policy", "absent_status") {
		// The simulated platform publishes only exceptions (red, yellow), so an unknown person is green.
		kcfg.Policy.AbsentStatus = "green"
	}

	// Bind first and answer at once with a "starting…" page, so the kiosk browser never meets a
	// refused connection while the database and the devices open.
	l, err := ui.Listen(cfg.Listen)
	if err != nil {
		return err
	}
	// The socket next: a second daemon on it stops here, before it opens any device.
	sl, err := listenSocket(sock.path, sock.explicit, logger)
	if err != nil {
		l.Close()
		return err
	}
	front := ui.NewStarting(version, logger)
	ctx, run, wait := lifecycle(ctx, sdNotify)
	run(func(ctx context.Context) error { return front.Serve(ctx, l) })
	var sockFront *ui.Starting
	if sl != nil {
		sockFront = ui.NewStarting(version, logger)
		run(func(ctx context.Context) error { return sockFront.Serve(ctx, sl) })
	}

	db, logHealth := openStore(ctx, cfg.Data, logger)
	if db != nil {
		defer db.Close()
	}
	// Sync first: in --sim the embedded hub enrolls the kiosk and delivers its keys and replica.
	syn := newSyncer(cfg, db, simulate, clock, logger)
	if simRoot, err := syn.start(ctx); err != nil {
		logger.Error("sync with the platform is off", "err", err)
	} else if simRoot != "" {
		cfg.Trust.Root = simRoot // codes are trusted under the embedded hub's root
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
		wait(true) // the front door closes before the error is reported
		return err
	}
	defer closeParts(parts, logger)
	qs, err := openQueue(ctx, cfg, db, &parts, simulate, clock, logger)
	if err != nil {
		wait(true)
		return err
	}

	opts := kiosk.Options{Keys: keys, Clock: clock, Logger: logger, LogHealth: logHealth, SyncHealth: syn.Health}
	if db != nil {
		opts.Log = db
		opts.Replica = kiosk.StoreReplica{Store: db, Clock: clock}
	} else {
		opts.Log = brokenLog{logHealth.Reason}
	}
	if v := codesFor(cfg, db, clock, logger); v != nil {
		opts.Codes = v
	}
	lane := kiosk.New(kcfg, parts, opts)
	syn.attach(ctx, lane, kcfg.Policy)
	syn.watch(newTelemetrySource(lane, parts.Printer, qs.queue(), clock))

	uo := ui.Options{Addr: cfg.Listen, Logger: logger, Sync: syncAPI{syn},
		Status: statusFunc(started, db, opts.Replica, clock)}
	if rig != nil {
		uo.Sim.Rig = simRig{rig: rig, printer: parts.Printer}
		if syn.hub != nil {
			uo.Sim.Platform = syn // the embedded hub sets statuses
		}
	}
	qs.apply(&uo, lane) // queue tickets, staff console, hall screen (queue.go)
	srv := ui.New(lane, uo)
	front.Ready(srv.Handler())
	sockName := ""
	if sockFront != nil {
		sockFront.Ready(srv.SocketHandler())
		sockName = sl.Addr().String()
	}
	url := "http://" + l.Addr().String() + "/"
	fmt.Fprintln(stdout, "onepass kiosk screen:", url)
	logger.Info("onepassd started", "version", version, "url", url, "socket", sockName, "data", cfg.Data, "sim", simulate)

	run(lane.Run)
	run(syn.run)
	if err := qs.start(ctx, srv, run); err != nil {
		// A staff listener that cannot start stops the daemon, as the main one does.
		run(func(context.Context) error { return err })
	}
	if err := sdNotify(readyState(lane.View().Health)); err != nil {
		logger.Warn("cannot tell systemd we are ready", "err", err)
	}
	if every, err := watchdogInterval(); err != nil {
		logger.Warn("systemd watchdog settings unreadable: not feeding it", "err", err)
	} else if every > 0 {
		run(func(ctx context.Context) error { return runWatchdog(ctx, every, lane.Alive, sdNotify, clock, logger) })
	}
	err = wait(false)
	logger.Info("onepassd stopped cleanly")
	return err
}

// lifecycle runs the daemon's long-running parts in one errgroup. ctx ends with the daemon; run
// starts a part on it; the first part to return, with or without an error, stops every
// other one (systemd restarts the daemon) and tells systemd STOPPING. wait(stop) returns the
// first error once every part has returned; stop = true stops them first, for a start that failed.
func lifecycle(parent context.Context, notify notifier) (ctx context.Context, run func(func(context.Context) error), wait func(stop bool) error) {
	ctx, cancel := context.WithCancel(parent)
	g, ctx := errgroup.WithContext(ctx)
	var once sync.Once
	stopAll := func() {
		once.Do(func() {
			cancel()
			notify(sd.SdNotifyStopping)
		})
	}
	run = func(part func(context.Context) error) {
		g.Go(func() error {
			defer stopAll()
			return part(ctx)
		})
	}
	wait = func(stop bool) error {
		if stop {
			once.Do(cancel) // a start that failed: nothing ran yet, no STOPPING (as before READY)
		}
		err := g.Wait()
		cancel()
		return err
	}
	return ctx, run, wait
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
