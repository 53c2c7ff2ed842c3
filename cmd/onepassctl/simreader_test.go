package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"onepass/device"
	"onepass/drivers/idcard"
)

// `onepassctl sim-reader --pty`: a technician points the real driver at the printed path and plays
// the card and the faults from the keyboard.
func TestSimReader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	link := filepath.Join(t.TempDir(), "idcard")
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- simReaderCommand(ctx, []string{"--pty", "--link", link, "--id", "110101199003074477", "--name", "张三"}, inR, outW)
		outW.Close()
	}()
	out := bufio.NewScanner(outR)
	line := func() string {
		t.Helper()
		if !out.Scan() {
			t.Fatalf("sim-reader stopped: %v", out.Err())
		}
		return out.Text()
	}
	first := line()
	if !strings.HasPrefix(first, "reader simulator on /dev/pts/") || !strings.Contains(first, `port = "`+link+`"`) {
		t.Fatalf("first line %q", first)
	}
	if target, err := os.Readlink(link); err != nil || !strings.Contains(first, target) {
		t.Fatalf("link %s → %s %v", link, target, err)
	}
	line() // "type help …"
	say := func(cmd string) string {
		t.Helper()
		if _, err := io.WriteString(inW, cmd+"\n"); err != nil {
			t.Fatal(err)
		}
		return line()
	}

	r, err := idcard.Open(context.Background(), idcard.Options{Port: link, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	next := func() device.Card {
		t.Helper()
		nctx, ncancel := context.WithTimeout(ctx, 10*time.Second)
		defer ncancel()
		c, err := r.Next(nctx)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := next(); c.Name != "张三" || c.Number != "110101199003074477" {
		t.Fatalf("card from the flags: %#v", c)
	}
	if got := say("card hkmotw 810000199001010019 CHAN TAI MAN"); got != "card placed (hkmotw)" {
		t.Fatalf("card: %q", got)
	}
	if c := next(); c.Type != device.CardHKMOTW || c.Name != "CHAN TAI MAN" {
		t.Fatalf("typed card: %#v", c)
	}
	if got := say("fault noise 5"); !strings.Contains(got, "Noise:5") {
		t.Errorf("fault: %q", got)
	}
	if got := say("fault split 64 1ms"); !strings.Contains(got, "Noise:5") || !strings.Contains(got, "SplitChunk:64") {
		t.Errorf("faults add up: %q", got)
	}
	say("remove")
	say("card 11010519491231002X 王五")
	if c := next(); c.Number != "11010519491231002X" {
		t.Fatalf("through the faults: %#v", c)
	}
	if got := say("fault clear"); !strings.Contains(got, "Noise:0") {
		t.Errorf("clear: %q", got)
	}
	for _, bad := range []string{"fault", "fault noise x", "fault sam zz", "card 1", "dance"} {
		if got := say(bad); !strings.HasPrefix(got, "error: ") {
			t.Errorf("%q: %q, want an error", bad, got)
		}
	}
	if got := say("status"); !strings.HasPrefix(got, "card: true, baud: 115200") {
		t.Errorf("status: %q", got)
	}
	inW.Close() // end of input: it keeps serving …
	for range 9 {
		line() // the command counts
	}
	cancel() // … until interrupted
	if got := line(); got != "reader simulator stopped" {
		t.Errorf("last line %q", got)
	}
	if err := <-done; err != nil {
		t.Error(err)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("the link stays behind: %v", err)
	}
}

func TestSimReaderUsage(t *testing.T) {
	for _, args := range [][]string{{"--id", "1"}, {"--baud", "1234"}, {"extra"}, {"--nope"}} {
		err := simReaderCommand(context.Background(), args, strings.NewReader(""), io.Discard)
		if _, ok := err.(usageError); !ok {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
