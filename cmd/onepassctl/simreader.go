package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"onepass/drivers/idcard/idcardsim"
)

const simReaderHelp = `commands (one a line; end with Ctrl-D to keep serving, Ctrl-C to stop):
  card [resident|foreigner|hkmotw] ID NAME…   place a card (the reader sees the swap)
  remove                                     take the card away
  fault noise N | split BYTES PAUSE | badsum N | truncate N | cut N | remove-mid-read |
        fail-reads N | sam [HEX] [sticky] | slow | silent | clear
                                             inject a fault (they add up; clear removes all)
  status                                     the card, the rate, the faults, the commands seen
  help
`

// simReaderCLI is `onepassctl sim-reader`: it plays a GA 467 reader on a pseudo-terminal until
// interrupted, for a technician testing a driver or a host program without hardware.
func simReaderCLI(args []string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return simReaderCommand(ctx, args, os.Stdin, stdout)
}

func simReaderCommand(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("sim-reader", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	_ = fs.Bool("pty", true, "") // the only transport today; named so scripts say what they mean
	link := fs.String("link", "", "")
	id := fs.String("id", "", "")
	name := fs.String("name", "", "")
	typ := fs.String("type", "", "")
	baud := fs.Int("baud", 115200, "")
	samDelay := fs.Duration("sam-delay", 0, "")
	readDelay := fs.Duration("read-delay", 0, "")
	paced := fs.Bool("paced", false, "")
	if err := fs.Parse(args); err != nil {
		return usageError{Msg: "sim-reader: " + err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{Msg: fmt.Sprintf("sim-reader: unexpected %q", fs.Arg(0))}
	}
	if (*id == "") != (*name == "") {
		return usageError{Msg: "sim-reader: --id and --name go together"}
	}
	valid := false
	for _, b := range []int{115200, 57600, 38400, 19200, 9600} {
		valid = valid || b == *baud
	}
	if !valid {
		return usageError{Msg: fmt.Sprintf("sim-reader: --baud %d: want 115200, 57600, 38400, 19200 or 9600", *baud)}
	}
	s := idcardsim.New(idcardsim.Options{Baud: *baud, FindDelay: *samDelay, SelectDelay: *samDelay, ReadDelay: *readDelay, Paced: *paced})
	p, err := s.OpenPTY()
	if err != nil {
		return err
	}
	defer p.Close()
	path := p.Path()
	if *link != "" {
		os.Remove(*link) // a stale link from an earlier run
		if err := os.Symlink(p.Path(), *link); err != nil {
			return fmt.Errorf("sim-reader: link: %w", err)
		}
		defer os.Remove(*link)
		path = *link
	}
	if *id != "" {
		s.Place(idcardsim.CardRequest{ID: *id, Name: *name, Type: *typ}.Card(time.Now()))
	}
	fmt.Fprintf(stdout, "reader simulator on %s (%d baud); configure [reader] driver = \"ga467\", port = %q\n", p.Path(), *baud, path)
	fmt.Fprint(stdout, "type help for commands\n")

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		close(lines)
	}()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout, "reader simulator stopped")
			return nil
		case line, ok := <-lines:
			if !ok {
				lines = nil // stdin closed: keep serving until interrupted
				continue
			}
			if err := simReaderLine(s, line, stdout); err != nil {
				fmt.Fprintln(stdout, "error:", err)
			}
		}
	}
}

// simReaderLine runs one command typed at the simulator.
func simReaderLine(s *idcardsim.Sim, line string, out io.Writer) error {
	f := strings.Fields(line)
	if len(f) == 0 {
		return nil
	}
	switch f[0] {
	case "help":
		fmt.Fprint(out, simReaderHelp)
	case "card":
		f = f[1:]
		typ := ""
		if len(f) > 0 && (f[0] == "resident" || f[0] == "foreigner" || f[0] == "hkmotw") {
			typ, f = f[0], f[1:]
		}
		if len(f) < 2 {
			return errors.New("card [TYPE] ID NAME…")
		}
		c := idcardsim.CardRequest{ID: f[0], Name: strings.Join(f[1:], " "), Type: typ}.Card(time.Now())
		s.Place(c)
		fmt.Fprintf(out, "card placed (%s)\n", c.Type)
	case "remove":
		s.Remove()
		fmt.Fprintln(out, "card removed")
	case "fault":
		fl, err := parseFault(s.Faults(), f[1:])
		if err != nil {
			return err
		}
		s.SetFaults(fl)
		fmt.Fprintf(out, "faults: %+v\n", fl)
	case "status":
		fmt.Fprintf(out, "card: %v, baud: %d, faults: %+v\n", s.HasCard(), s.Baud(), s.Faults())
		for _, c := range []struct {
			name      string
			cmd, para byte
		}{{"reset", 0x10, 0xFF}, {"status", 0x11, 0xFF}, {"sam-id", 0x12, 0xFF}, {"find", 0x20, 0x01},
			{"select", 0x20, 0x02}, {"read", 0x30, 0x01}, {"read+fp", 0x30, 0x10}, {"address", 0x30, 0x03}, {"mgmt-no", 0x30, 0x05}} {
			fmt.Fprintf(out, "  %-8s %02X %02X  %d\n", c.name, c.cmd, c.para, s.Count(c.cmd, c.para))
		}
	default:
		return fmt.Errorf("unknown command %q (try help)", f[0])
	}
	return nil
}

// parseFault adds one fault to f.
func parseFault(f idcardsim.Faults, a []string) (idcardsim.Faults, error) {
	if len(a) == 0 {
		return f, errors.New("fault what? (try help)")
	}
	num := func(i int) (int, error) {
		if len(a) <= i {
			return 0, fmt.Errorf("fault %s needs a number", a[0])
		}
		n, err := strconv.Atoi(a[i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("fault %s: %q is not a count", a[0], a[i])
		}
		return n, nil
	}
	var err error
	switch a[0] {
	case "noise":
		f.Noise, err = num(1)
	case "badsum":
		f.BadChecksum, err = num(1)
	case "truncate":
		f.Truncate, err = num(1)
	case "cut":
		f.Cut, err = num(1)
	case "fail-reads":
		f.FailReads, err = num(1)
	case "split":
		if f.SplitChunk, err = num(1); err == nil {
			if len(a) < 3 {
				return f, errors.New("fault split BYTES PAUSE, e.g. split 64 5ms")
			}
			f.SplitDelay, err = time.ParseDuration(a[2])
		}
	case "remove-mid-read":
		f.RemoveMidRead = true
	case "sam":
		f.SAMFailure = 0x60
		for _, x := range a[1:] {
			if x == "sticky" {
				f.SAMSticky = true
				continue
			}
			v, perr := strconv.ParseUint(strings.TrimPrefix(x, "0x"), 16, 8)
			if perr != nil || v == 0 {
				return f, fmt.Errorf("fault sam: %q is not a status byte like 60 or 66", x)
			}
			f.SAMFailure = byte(v)
		}
	case "slow":
		f.SlowSAM = true
	case "silent":
		f.Silent = true
	case "clear":
		f = idcardsim.Faults{}
	default:
		return f, fmt.Errorf("unknown fault %q (try help)", a[0])
	}
	return f, err
}
