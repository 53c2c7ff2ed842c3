// Command deadd is a broken onepassd for the flash tests. It prints its version like the real
// daemon (so the package builds and `onepassd --version` answers) and passes the self-test that
// onepassctl runs inside onepassd (`onepassd onepassctl-local selftest`: what this package breaks is
// the daemon, which only the daemon check can catch), then, run as the daemon, as built:
//   - by default it exits 1 at once;
//   - with -X main.crashAfter=2s it starts like the real daemon (answers GET /api/status on the
//     configuration's listen address as its version, tells systemd READY=1) and exits 1 after
//     that long: a daemon that looks fine for a moment, which only a settle time catches.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"time"
)

var (
	version    = "dev"
	crashAfter = ""
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println("onepassd", version)
		return
	}
	if len(os.Args) > 2 && os.Args[1] == "onepassctl-local" && os.Args[2] == "selftest" {
		fmt.Println("self-test PASSED (scripts/testdata/deadd: the daemon is what is broken)")
		return
	}
	if crashAfter == "" {
		fmt.Fprintln(os.Stderr, "onepassd: refusing to start: this build is broken on purpose (scripts/testdata/deadd)")
		os.Exit(1)
	}
	d, err := time.ParseDuration(crashAfter)
	if err != nil {
		fmt.Fprintln(os.Stderr, "deadd: crashAfter:", err)
		os.Exit(2)
	}
	if err := serve(d); err != nil {
		fmt.Fprintln(os.Stderr, "onepassd:", err)
	}
	os.Exit(1)
}

var listenRE = regexp.MustCompile(`(?m)^listen\s*=\s*"([^"]+)"`)

func serve(d time.Duration) error {
	addr := "127.0.0.1:8080"
	for i, a := range os.Args {
		if a == "--config" && i+1 < len(os.Args) {
			b, err := os.ReadFile(os.Args[i+1])
			if err != nil {
				return err
			}
			if m := listenRE.FindSubmatch(b); m != nil {
				addr = string(m[1])
			}
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	started := time.Now()
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"version": version, "health": "ok", "uptime_s": time.Since(started).Seconds()})
	}))
	if sock := os.Getenv("NOTIFY_SOCKET"); sock != "" {
		c, err := net.Dial("unixgram", sock)
		if err != nil {
			return err
		}
		c.Write([]byte("READY=1"))
		c.Close()
	}
	time.Sleep(d)
	return fmt.Errorf("crashed %s after it started, on purpose (scripts/testdata/deadd)", d)
}
