// Package ctl is what onepassctl and onepassd's internal "onepassctl" subcommand share: the usage
// text, the exit statuses, and which commands run without the daemon. It imports only the
// standard library, so onepassctl stays small.
package ctl

import (
	"errors"
	"fmt"
	"io"
)

// Usage is onepassctl's help.
const Usage = `onepassctl — control and inspect a onepass kiosk

Usage: onepassctl [--socket PATH | --data DIR | --addr URL] COMMAND [ARGS]

Commands:
  status                          the daemon's version and uptime, the lane's state, the health of
                                  every part, the last sync and the outbox depth
  selftest [--sim] [--json] [--config FILE] [--data DIR]
                                  test every configured part, the database and (when sync is
                                  configured) the hub, the clock and the certificate, without the
                                  daemon (stop it first: it holds the devices); exit 1 on a failure
  enroll --hub URL --token T      enroll this kiosk with the platform hub (one-time token from
                                  onepass-hub token); the daemon keeps the device key (0600) and syncs;
                                  with [sync] hubs, URL may be any of the hub's replicas
  sync [now] [--json]             sync with the hub: the replica that served last (last_hub), last
                                  pull/push, replica age, outbox, clock skew; "now" pulls and pushes at once
  sync requeue [--data DIR] [ID…]  put records the platform refused (quarantined) back in the
                                  outbox, all of them without IDs; no daemon needed
  sim card --id ID --name NAME    place an ID card on the simulated reader
           [--type resident|foreigner|hkmotw] [--valid-to YYYYMMDD|长期]
  sim remove                      take the card off the simulated reader
  sim temp C                      a person with body temperature C steps in front (the emulated
                                  sensor sees the cooler forehead; the screen shows C)
  sim leave                       the person steps away
  sim code TEXT                   show a QR code with this text to the simulated camera
  sim code --image FILE           show a picture (a printed code, a phone screen) to the simulated camera;
                                  at most 4096×4096 pixels (16 Mpx), else refused (413) with its size
  sim set-status --id ID --status green|yellow|red|unknown
                                  the simulated platform sets a person's status
  sim fault PART ok|degraded|down [REASON]
                                  set a simulated part's health (reader, thermometer, camera, printer, signal)
  sim-reader --pty [--link PATH] [--id ID --name NAME [--type T]] [--baud N] [--paced]
             [--sam-delay D] [--read-delay D]
                                  play a GA 467 ID card reader on a pseudo-terminal until
                                  interrupted (no daemon needed): prints the tty to point a driver
                                  at; type card/remove/fault/status commands (help lists them)
  scan FILE… [--json] [--models DIR|none]
                                  decode the QR codes in still images or videos with the kiosk
                                  camera's pipeline (no daemon needed): one line per file with the
                                  texts and the decode time; --json: {"file","codes","ms"} per line;
                                  an image over 4096×4096 pixels (16 Mpx) is reported with its size,
                                  not decoded, and the exit status is 1
  trust import FILE [--config FILE] [--data DIR]
                                  store a signed trust list of health-code issuers, checked against
                                  the pinned [trust] root key (no daemon needed)
  thermo emissivity [--bus B] [--address A] [--set E]
                                  read (or write, erase-then-write) the MLX90614's emissivity on
                                  the I2C bus directly (no daemon; default /dev/i2c-1, 0x5A)
  thermo read [--bus B] [--address A] [--samples N] [--interval D] [--reference C]
                                  calibration readings straight from the sensor: medians of object
                                  and ambient; with a reference source's C, the offset_c to set
  ticket issue --service A [--priority elderly|disabled|pregnant]
                                  issue (and print) a ticket, as the staff console does; exit 1
                                  when the printer did not print it (say the number instead)
  ticket call|recall|served|no-show --counter N
                                  call the next ticket to counter N, call its ticket again, or
                                  close it (calling the next one closes the current as served)
  ticket transfer --counter N --service B
                                  send counter N's ticket to another service's queue
  ticket checkin CODE             check in a booked appointment (its APPT1:… code)
  queue                           the queue: waiting per service, counters, last calls, printer
  staff add --id ID --name NAME [--counter N] [--file FILE]
                                  read a PIN (4–12 digits) on stdin and write the staff entry with
                                  its bcrypt hash to FILE (the [staff] staff_file), or print it
  sim appointment --service A [--in 10m] [--ref REF]
                                  the simulated booking system signs an appointment code
  sim printer paper ok|near_end|out | cover open|closed | mute on|off
                                  change the simulated ticket printer
  version                         print the version

Flags (where the daemon is reached; the first one that applies wins):
  --addr URL     onepassd's local API over HTTP, e.g. http://127.0.0.1:8080
  --socket PATH  onepassd's Unix socket (onepassd --socket PATH)
  --data DIR     the socket of a daemon run with --sim --data DIR: DIR/onepassd.sock
  (none)         $ONEPASS_ADDR when set (a URL, or unix:PATH); else /run/onepass/onepassd.sock
                 when it exists (group onepass: add yourself to it, or use sudo); else
                 http://127.0.0.1:8080

Exit status: 0 done, 1 the daemon refused or could not be reached, 2 bad usage.
`

// Exit statuses.
const (
	ExitOK    = 0
	ExitFail  = 1 // the daemon refused or could not be reached, a check failed
	ExitUsage = 2
)

// UsageError is a command typed wrongly: its message, then the usage, exit 2.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// InputError is a value that is not acceptable (a PIN too short): its message alone, exit 2.
// The whole usage would bury the one line that says what to fix.
type InputError struct{ Msg string }

func (e InputError) Error() string { return e.Msg }

// Exit reports err as onepassctl does and returns the exit status.
func Exit(err error, stderr io.Writer) int {
	var ue UsageError
	var ie InputError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "onepassctl: %s\n\n", ue.Msg)
		fmt.Fprint(stderr, Usage)
		return ExitUsage
	case errors.As(err, &ie):
		fmt.Fprintln(stderr, "onepassctl:", ie.Msg)
		return ExitUsage
	default:
		fmt.Fprintln(stderr, "onepassctl:", err)
		return ExitFail
	}
}

// Local reports whether the command runs on this machine without the daemon, with the heavy
// dependencies (OpenCV, SQLite, periph, the drivers): onepassctl hands it to onepassd's internal
// subcommand (Subcommand) so that onepassctl itself links none of them and starts at once.
func Local(args []string) bool {
	if len(args) == 0 {
		return false
	}
	switch args[0] {
	case "selftest", "scan", "thermo", "trust", "staff":
		return true
	case "sync":
		return len(args) > 1 && args[1] == "requeue"
	}
	return false
}

// Subcommand is onepassd's internal subcommand that runs the Local commands:
// onepassd onepassctl-local COMMAND [ARGS].
const Subcommand = "onepassctl-local"
