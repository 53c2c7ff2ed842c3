package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSyncSection(t *testing.T) {
	tests := []struct {
		text, err string
	}{
		{"[sync]\nhub = \"https://hub.example:8443\"\npull_interval = \"30s\"\noutbox_limit = 5000\n", ""},
		{"[sync]\nhub = \"http://hub.example\"\n", "sync.hub"},
		{"[sync]\npull_interval = \"10ms\"\n", "sync.pull_interval"},
		{"[sync]\noutbox_limit = 3\n", "sync.outbox_limit"},
		{"[sync]\nhubb = \"https://x\"\n", "unknown key sync.hubb"},
	}
	for _, tt := range tests {
		c := Default()
		err := c.parse(tt.text)
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%q: %v, want %q", tt.text, err, tt.err)
		}
		if err == nil && (c.Sync.Hub != "https://hub.example:8443" || c.Sync.PullInterval.Duration != 30*time.Second ||
			c.Sync.PushInterval.Duration != 5*time.Second || c.Sync.OutboxLimit != 5000) {
			t.Errorf("parsed %+v", c.Sync)
		}
	}
}

// TestSyncHubs: [sync] hubs lists the hub's replicas, each checked like hub; hub and hubs
// together are an error naming both keys.
func TestSyncHubs(t *testing.T) {
	tests := []struct {
		text string
		want []string // Replicas()
		err  []string // every text the error must contain
	}{
		{"", nil, nil},
		{"[sync]\nhub = \"https://hub-a:8443\"\n", []string{"https://hub-a:8443"}, nil},
		{"[sync]\nhubs = [\"https://hub-a:8443\", \"https://hub-b:8443\"]\n", []string{"https://hub-a:8443", "https://hub-b:8443"}, nil},
		{"[sync]\nhubs = [\"https://hub-a:8443\"]\n", []string{"https://hub-a:8443"}, nil},
		{"[sync]\nhub = \"https://hub-a:8443\"\nhubs = [\"https://hub-a:8443\", \"https://hub-b:8443\"]\n", nil, []string{"sync.hub", "sync.hubs"}},
		{"[sync]\nhubs = [\"https://hub-a:8443\", \"http://hub-b:8443\"]\n", nil, []string{"sync.hubs[1]", "https://host"}},
		{"[sync]\nhubs = [\"https://\"]\n", nil, []string{"sync.hubs[0]"}},
		{"[sync]\nhubs = [\"https://hub-a:8443\", \"https://hub-a:8443\"]\n", nil, []string{"sync.hubs[1]", "twice"}},
		{"[sync]\nhubs = \"https://hub-a:8443\"\n", nil, []string{"hubs"}},
	}
	for _, tt := range tests {
		c := Default()
		err := c.parse(tt.text)
		if tt.err == nil {
			if err != nil {
				t.Errorf("%q: %v", tt.text, err)
			} else if got := c.Sync.Replicas(); !slices.Equal(got, tt.want) {
				t.Errorf("%q: replicas %q, want %q", tt.text, got, tt.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q: accepted, want an error naming %q", tt.text, tt.err)
			continue
		}
		for _, w := range tt.err {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %v, want it to name %q", tt.text, err, w)
			}
		}
	}
}
