package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"github.com/jonboulle/clockwork"

	"onepass/device"
	"onepass/kiosk"
	"onepass/sync/store"
	"onepass/ui"
)

// notifier sends sd_notify messages to systemd (systemd/onepassd.service is Type=notify). Outside
// systemd NOTIFY_SOCKET is unset and every message is dropped, so the daemon runs the same by hand.
type notifier func(state string) error

func sdNotify(state string) error {
	_, err := sd.SdNotify(false, state)
	return err
}

// readyState is the READY message: ready once the database is open and every configured part is
// open (absent hardware reconnects by itself and is named in STATUS, it does not delay READY).
func readyState(parts map[string]device.Health) string {
	names := make([]string, 0, len(parts))
	for n := range parts {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		if h := parts[n]; h.State != device.NotConfigured {
			fmt.Fprintf(&b, "%s %s; ", n, h)
		}
	}
	return sd.SdNotifyReady + "\nSTATUS=" + strings.TrimSuffix(b.String(), "; ")
}

// watchdogInterval is how often to ping systemd's watchdog: half its timeout, as sd_watchdog_enabled(3)
// advises; 0 when the unit has no WatchdogSec.
func watchdogInterval() (time.Duration, error) {
	d, err := sd.SdWatchdogEnabled(false)
	return d / 2, err
}

// runWatchdog pings systemd every interval, but only while the lane's loop keeps turning (alive is
// fresh): a loop stuck in a handler, a deadlock or a wedged device call lets the watchdog expire,
// and systemd restarts the daemon. A ping that cannot be sent is logged once, not fatal.
func runWatchdog(ctx context.Context, interval time.Duration, alive func() time.Time, notify notifier, clock clockwork.Clock, logger *slog.Logger) error {
	if interval <= 0 {
		return nil
	}
	t := clock.NewTicker(interval)
	defer t.Stop()
	stuck, failed := false, false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
		}
		last := alive()
		if last.IsZero() || clock.Since(last) > interval {
			if !stuck {
				logger.Error("lane loop stuck: no longer feeding systemd's watchdog, which will restart the daemon", "last_turn", last)
				stuck = true
			}
			continue
		}
		if stuck {
			logger.Warn("lane loop turning again: feeding the watchdog")
			stuck = false
		}
		if err := notify(sd.SdNotifyWatchdog); err != nil && !failed {
			logger.Warn("watchdog ping failed", "err", err)
			failed = true
		}
	}
}

// statusFunc answers GET /api/status for the daemon's part: version, uptime and database figures.
func statusFunc(started time.Time, db *store.Store, replica kiosk.Replica, clock clockwork.Clock) ui.StatusFunc {
	return func(ctx context.Context) ui.Status {
		st := ui.Status{Version: version, Started: started, UptimeS: math.Round(clock.Since(started).Seconds())}
		if db == nil {
			st.Problems = append(st.Problems, "database not open: see the store part")
			return st
		}
		if n, err := db.OutboxDepth(ctx); err != nil {
			st.Problems = append(st.Problems, "outbox depth: "+err.Error())
		} else {
			st.OutboxDepth = &n
		}
		if replica != nil {
			if age := replica.Age(ctx); age < time.Duration(math.MaxInt64) {
				s := math.Round(age.Seconds())
				st.ReplicaAgeS = &s
			}
		}
		if b, ok, err := db.Meta(ctx, store.MetaLastSync); err != nil {
			st.Problems = append(st.Problems, "last sync: "+err.Error())
		} else if ok {
			if t, err := time.Parse(time.RFC3339Nano, string(b)); err == nil {
				st.LastSync = &t
			} else {
				st.Problems = append(st.Problems, "last sync: "+err.Error())
			}
		}
		return st
	}
}
