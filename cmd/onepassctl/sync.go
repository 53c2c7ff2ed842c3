package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"onepass/cmd/internal/config"
	syncclient "onepass/sync/client"
	"onepass/sync/store"
)

// syncView is the body of onepassd's GET /api/sync.
type syncView struct {
	Enrolled    bool               `json:"enrolled"`
	EmbeddedHub string             `json:"embedded_hub,omitempty"`
	Status      *syncclient.Status `json:"status,omitempty"`
	Quarantine  []struct {
		ID     string    `json:"id"`
		Kind   string    `json:"kind"`
		At     time.Time `json:"at"`
		Reason string    `json:"reason"`
	} `json:"quarantine,omitempty"`
}

// enrollCommand: onepassctl enroll --hub URL --token T. The daemon makes the device key under
// its data directory, gets the client certificate and starts syncing.
func enrollCommand(c *client, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("enroll", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	hub := fs.String("hub", "", "")
	token := fs.String("token", "", "")
	if err := fs.Parse(args); err != nil || *hub == "" || *token == "" || fs.NArg() > 0 {
		return usageError{"enroll needs --hub https://HOST[:PORT] and --token TOKEN"}
	}
	slow := &client{base: c.base, http: &http.Client{Timeout: 2 * time.Minute}}
	var v syncView
	if err := slow.postJSON("/api/sync/enroll", map[string]string{"hub": *hub, "token": *token}, &v); err != nil {
		return err
	}
	if v.Status != nil {
		fmt.Fprintf(stdout, "enrolled as device %s of hall %s with %s; syncing\n", v.Status.Device, v.Status.Hall, v.Status.Hub)
	}
	return nil
}

// syncCommand: onepassctl sync [now] [--json], or sync requeue.
func syncCommand(c *client, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "requeue" {
		return requeueCommand(args[1:], stdout)
	}
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "")
	now := false
	if len(args) > 0 && args[0] == "now" {
		now, args = true, args[1:]
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return usageError{"sync takes [now] [--json]"}
	}
	var v syncView
	if now {
		slow := &client{base: c.base, http: &http.Client{Timeout: 3 * time.Minute}}
		if err := slow.postJSON("/api/sync/now", struct{}{}, &v); err != nil {
			return err
		}
	} else if err := c.get("/api/sync", &v); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(v)
	}
	printSync(stdout, v, time.Now())
	return nil
}

func printSync(w io.Writer, v syncView, now time.Time) {
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
		age = (time.Duration(s.ReplicaAge) * time.Second).String() + " old"
	}
	fmt.Fprintf(w, "replica      %d persons, epoch %d, seq %d, %s\n", s.ReplicaCount, s.ReplicaEpoch, s.ReplicaSeq, age)
	fmt.Fprintf(w, "outbox       %d waiting (alarm at %d), %d quarantined\n", s.OutboxDepth, s.OutboxLimit, s.Quarantined)
	if s.SkewKnown {
		fmt.Fprintf(w, "clock skew   %+dms (hub − kiosk)\n", int64(s.SkewMS))
	}
	fmt.Fprintf(w, "certificate  expires %s\n", s.CertExpires.Local().Format("2006-01-02"))
	for _, q := range v.Quarantine {
		fmt.Fprintf(w, "quarantined  %s %s of %s: %s\n", q.Kind, q.ID, q.At.Local().Format("2006-01-02 15:04:05"), q.Reason)
	}
}

// requeueCommand runs `onepassctl sync requeue [--config FILE] [--data DIR] [ID…]`: quarantined
// records (refused by the platform) go back into the outbox, all of them without IDs. It works on
// the database directly, with or without the daemon running.
func requeueCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sync requeue", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", "", "")
	data := fs.String("data", "", "")
	if err := fs.Parse(args); err != nil {
		return usageError{"sync requeue: " + err.Error()}
	}
	cfg, err := config.FromFlags(*cfgPath, *data)
	if err != nil {
		return err
	}
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(cfg.Data, "onepass.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.Requeue(ctx, fs.Args()...)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d records back in the outbox\n", n)
	return nil
}
