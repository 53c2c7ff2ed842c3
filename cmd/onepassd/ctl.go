package main

import (
	"io"
	"os"

	"onepass/cmd/internal/ctl"
	"onepass/cmd/internal/ctl/local"
)

// runCtl is the internal subcommand `onepassd onepassctl-local COMMAND [ARGS]`: onepassctl's
// commands that work without the daemon (selftest, scan, thermo, trust, sync requeue, staff add)
// run here, where OpenCV, SQLite and the drivers are linked anyway, so onepassctl links none of
// them. onepassctl passes its arguments, stdio and the exit status through.
func runCtl(args []string, stdout, stderr io.Writer) (int, bool) {
	if len(args) == 0 || args[0] != ctl.Subcommand {
		return 0, false
	}
	return local.Run(args[1:], version, os.Stdin, stdout, stderr), true
}
