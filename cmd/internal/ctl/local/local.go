// Package local holds the onepassctl commands that run on the kiosk without the daemon (selftest,
// scan, thermo, trust import, sync requeue, staff add). They need OpenCV, SQLite, periph and the
// drivers, so onepassctl does not link them: it runs them through onepassd's internal subcommand
// (ctl.Subcommand), which calls Run.
package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/bcrypt"

	"onepass/cmd/internal/config"
	"onepass/cmd/internal/ctl"
	"onepass/sync/store"
)

// Run runs one local command (args[0] names it; see ctl.Local) and returns the exit status, with
// the messages and statuses onepassctl gives. version is the build's, for reports.
func Run(args []string, version string, stdin io.Reader, stdout, stderr io.Writer) int {
	return ctl.Exit(dispatch(args, version, stdin, stdout), stderr)
}

func dispatch(args []string, version string, stdin io.Reader, stdout io.Writer) error {
	if !ctl.Local(args) {
		return ctl.UsageError{Msg: fmt.Sprintf("not a local command: %q", args)}
	}
	switch args[0] {
	case "selftest":
		return selftestCommand(args[1:], version, stdout)
	case "scan":
		return scanCommand(args[1:], stdout)
	case "thermo":
		return thermoCommand(args[1:], stdout)
	case "trust":
		return trustCommand(args[1:], stdout)
	case "staff":
		if len(args) < 2 || args[1] != "add" {
			return ctl.UsageError{Msg: "staff: the only command is staff add"}
		}
		return staffAdd(args[2:], stdin, stdout)
	}
	return requeueCommand(args[2:], stdout) // sync requeue
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
		return ctl.UsageError{Msg: "sync requeue: " + err.Error()}
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

var pinRe = regexp.MustCompile(`^[0-9]{4,12}$`)

// staffAdd hashes a PIN read from stdin and writes the staff entry. The PIN is never an
// argument, so it stays out of shell history and the process list.
func staffAdd(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("staff add", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	id := fs.String("id", "", "")
	name := fs.String("name", "", "")
	counter := fs.String("counter", "", "")
	file := fs.String("file", "", "")
	if err := fs.Parse(args); err != nil {
		return ctl.UsageError{Msg: "staff add: " + err.Error()}
	}
	if *id == "" || *name == "" {
		return ctl.UsageError{Msg: "staff add needs --id and --name"}
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the PIN from stdin: %w", err)
	}
	pin := strings.TrimSpace(line)
	if !pinRe.MatchString(pin) {
		return ctl.InputError{Msg: "staff add: the PIN must be 4–12 digits, given on stdin, e.g. read -rs PIN; echo \"$PIN\" | onepassctl staff add …"}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pin), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash the PIN: %w", err)
	}
	u := config.StaffUser{ID: *id, Name: *name, Counter: *counter, PINHash: string(hash)}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(config.StaffFile{Staff: []config.StaffUser{u}}); err != nil {
		return err
	}
	if *file == "" {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	if existing, err := config.ReadStaffFile(*file); err == nil {
		for _, e := range existing {
			if e.ID == *id {
				return fmt.Errorf("staff %s is already in %s: edit the file to change the PIN", *id, *file)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(*file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(append([]byte("\n"), buf.Bytes()...)); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "staff %s added to %s; restart onepassd to apply\n", *id, *file)
	return nil
}
