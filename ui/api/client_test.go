package api

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// TestUnreachable: the error names the socket or URL tried, and a socket the user may not open
// points at group onepass.
func TestUnreachable(t *testing.T) {
	sock, _ := New("unix:/run/onepass/onepassd.sock")
	web, _ := New("http://127.0.0.1:8080")
	tests := []struct {
		c    *Client
		err  error
		want []string
	}{
		{sock, fmt.Errorf("dial unix: %w", syscall.EACCES), []string{"on socket /run/onepass/onepassd.sock", "group onepass"}},
		{sock, fmt.Errorf("dial unix: %w", syscall.ENOENT), []string{"on socket /run/onepass/onepassd.sock", "see --socket"}},
		{web, fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED), []string{"at http://127.0.0.1:8080", "see --addr"}},
	}
	for _, tt := range tests {
		got := tt.c.unreachable(tt.err).Error()
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%q lacks %q", got, w)
			}
		}
	}
	if sock.Addr() != "unix:/run/onepass/onepassd.sock" || web.Addr() != "http://127.0.0.1:8080" {
		t.Errorf("Addr: %q %q", sock.Addr(), web.Addr())
	}
}
