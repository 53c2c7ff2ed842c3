package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"onepass/cmd/internal/ctl"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"onepass/drivers/camera"
)

// ScanResult is one line of `onepassctl scan --json`.
type ScanResult struct {
	File  string   `json:"file"`
	Codes []string `json:"codes"`
	MS    float64  `json:"ms"`
	Error string   `json:"error,omitempty"`
}

// errScanFailed makes the exit status 1 after every file was reported.
var errScanFailed = errors.New("some files could not be read")

// scanCommand runs `onepassctl scan FILE… [--json] [--models DIR|none]`: the kiosk camera's pipeline
// (drivers/camera) on still images and videos, without the daemon. Flags may come before or after
// the files.
func scanCommand(args []string, stdout io.Writer) error {
	var (
		files  []string
		asJSON bool
		models string
	)
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--json" || a == "-json":
			asJSON = true
		case a == "--models" || a == "-models":
			if i+1 == len(args) {
				return ctl.UsageError{Msg: "scan: --models needs a folder (or none)"}
			}
			i++
			models = args[i]
		case strings.HasPrefix(a, "--models="):
			models = strings.TrimPrefix(a, "--models=")
		case a == "--":
			files = append(files, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			return ctl.UsageError{Msg: fmt.Sprintf("scan: unknown flag %s", a)}
		default:
			files = append(files, a)
		}
	}
	if len(files) == 0 {
		return ctl.UsageError{Msg: "scan needs at least one image or video file"}
	}
	camera.SetThreads(1) // as in the daemon, so the times are the kiosk's
	dec, err := camera.NewDecoder(camera.ResolveModels(models))
	if err != nil {
		return err
	}
	defer dec.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	failed := false
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for _, f := range files {
		res, err := camera.ScanFile(ctx, dec, f)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		out := ScanResult{File: f, Codes: []string{}, MS: math.Round(float64(res.Decode.Microseconds())/100) / 10}
		for _, c := range res.Codes {
			out.Codes = append(out.Codes, c.Text)
		}
		if err != nil {
			out.Error = err.Error()
			failed = true
		}
		if asJSON {
			if err := enc.Encode(out); err != nil {
				return err
			}
			continue
		}
		texts := "-"
		if len(out.Codes) > 0 {
			q := make([]string, len(out.Codes))
			for i, t := range out.Codes {
				q[i] = strconv.Quote(t)
			}
			texts = strings.Join(q, " ")
		}
		if out.Error != "" {
			texts = "error: " + out.Error
		}
		fmt.Fprintf(stdout, "%s\t%s\t%.1f ms\n", f, texts, out.MS)
	}
	if failed {
		return errScanFailed
	}
	return nil
}
