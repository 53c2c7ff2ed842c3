package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"onepass/ui/api"
)

// enrollCommand: onepassctl enroll --hub URL --token T. The daemon makes the device key under
// its data directory, gets the client certificate and starts syncing.
func enrollCommand(ctx context.Context, c *api.Client, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("enroll", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	hub := fs.String("hub", "", "")
	token := fs.String("token", "", "")
	if err := fs.Parse(args); err != nil || *hub == "" || *token == "" || fs.NArg() > 0 {
		return usageError{Msg: "enroll needs --hub https://HOST[:PORT] and --token TOKEN"}
	}
	v, err := c.Enroll(ctx, api.EnrollRequest{Hub: *hub, Token: *token})
	if err != nil {
		return err
	}
	if v.Status != nil {
		fmt.Fprintf(stdout, "enrolled as device %s of hall %s with %s; syncing\n", v.Status.Device, v.Status.Hall, v.Status.Hub)
	}
	return nil
}

// syncCommand: onepassctl sync [now] [--json] (sync requeue is local: ctl.Local).
func syncCommand(ctx context.Context, c *api.Client, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "")
	now := false
	if len(args) > 0 && args[0] == "now" {
		now, args = true, args[1:]
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return usageError{Msg: "sync takes [now] [--json]"}
	}
	var v api.SyncStatus
	var err error
	if now {
		v, err = c.SyncNow(ctx)
	} else {
		v, err = c.Sync(ctx)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(v)
	}
	printSync(stdout, v, time.Now())
	return nil
}

func printSync(w io.Writer, v api.SyncStatus, now time.Time) {
	if !v.Enrolled || v.Status == nil {
		fmt.Fprintln(w, "not enrolled: onepassctl enroll --hub URL --token T")
		return
	}
	s := v.Status
	ago := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return fmt.Sprintf("%s (%s ago)", t.Local().Format("2006-01-02 15:04:05"), now.Sub(t).Round(time.Second))
	}
	fmt.Fprintf(w, "hub          %s (device %s, hall %s)\n", s.Hub, s.Device, s.Hall)
	if len(s.Hubs) > 1 {
		fmt.Fprintf(w, "replicas     %s (preferred first)\n", strings.Join(s.Hubs, ", "))
	}
	last := s.LastHub
	if last == "" {
		last = "none yet"
	}
	fmt.Fprintf(w, "last hub     %s\n", last)
	fmt.Fprintf(w, "health       %s\n", s.Health)
	fmt.Fprintf(w, "last pull    %s\n", ago(s.LastPull))
	if s.PullError != "" {
		fmt.Fprintf(w, "pull error   %s (%s)\n", s.PullError, ago(s.LastPullError))
	}
	fmt.Fprintf(w, "last push    %s; %d records uploaded since start\n", ago(s.LastPush), s.Uploaded)
	if s.PushError != "" {
		fmt.Fprintf(w, "push error   %s (%s)\n", s.PushError, ago(s.LastPushError))
	}
	age := "never synced"
	if s.ReplicaAge >= 0 {
		// rounded as `onepassctl status` rounds it: both show one number
		age = (time.Duration(math.Round(s.ReplicaAge)) * time.Second).String() + " old"
	}
	fmt.Fprintf(w, "replica      %d persons, epoch %d, seq %d, %s\n", s.ReplicaCount, s.ReplicaEpoch, s.ReplicaSeq, age)
	if s.ReplicaError != "" {
		fmt.Fprintf(w, "replica err  %s\n", s.ReplicaError)
	}
	fmt.Fprintf(w, "outbox       %d waiting (alarm at %d), %d quarantined\n", s.OutboxDepth, s.OutboxLimit, s.Quarantined)
	if s.SkewKnown {
		fmt.Fprintf(w, "clock skew   %+dms (hub − kiosk)\n", int64(s.SkewMS))
	}
	fmt.Fprintf(w, "certificate  expires %s\n", s.CertExpires.Local().Format("2006-01-02"))
	for _, q := range v.Quarantine {
		fmt.Fprintf(w, "quarantined  %s %s of %s: %s\n", q.Kind, q.ID, q.At.Local().Format("2006-01-02 15:04:05"), q.Reason)
	}
}
