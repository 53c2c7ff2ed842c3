package config

import (
	"strings"
	"testing"
)

// TestListenLoopbackOnly: the local API has no login, so listen must stay on loopback; anything
// that reaches the LAN is refused with a pointer to [staff] listen.
func TestListenLoopbackOnly(t *testing.T) {
	tests := []struct {
		listen string
		ok     bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.2:8080", true},
		{"[::1]:8080", true},
		{"localhost:8080", true},
		{"LOCALHOST:0", true},
		{"[::ffff:127.0.0.1]:8080", true},
		{"0.0.0.0:8080", false},
		{"[::]:8080", false},
		{":8080", false},
		{"192.168.1.20:8080", false},
		{"[fe80::1%eth0]:8080", false},
		{"kiosk3.hall.local:8080", false},
		{"localhost.example:8080", false},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			c := Default()
			err := c.parse("listen = \"" + tt.listen + "\"\n")
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range []string{"listen:", "not a loopback address", "[staff] listen"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if err := LoopbackListen("8080"); err == nil || !strings.Contains(err.Error(), "host:port") {
		t.Errorf("no port separator: %v", err)
	}
}
