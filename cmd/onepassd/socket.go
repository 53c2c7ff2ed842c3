package main

import (
	"errors"
	"log/slog"
	"net"
	"path/filepath"

	"onepass/ui"
	"onepass/ui/api"
)

// socketFlag is the local API's Unix socket as the flags chose it.
type socketFlag struct {
	path     string
	explicit bool // --socket given: failing to bind it stops the daemon
}

// socketPath is where the local API's Unix socket goes: --socket when given, else the data
// directory in --sim (a developer's run needs no root), else api.DefaultSocket. explicit says
// whether the path was asked for, and so whether failing to bind it stops the daemon.
func socketPath(flag string, simulate bool, data string) (path string, explicit bool) {
	switch {
	case flag != "":
		return flag, true
	case simulate:
		return filepath.Join(data, api.SocketName), false
	}
	return api.DefaultSocket, false
}

// listenSocket binds the socket onepassctl talks to. A socket another daemon answers on, or one
// given with --socket that cannot be bound, stops the start; a default one that cannot be bound
// (a developer's run without root has no /run/onepass) leaves the daemon on HTTP alone.
func listenSocket(path string, explicit bool, logger *slog.Logger) (net.Listener, error) {
	l, err := ui.ListenSocket(path, ui.SocketGroup, logger)
	if err == nil {
		return l, nil
	}
	if explicit || errors.Is(err, ui.ErrSocketInUse) {
		return nil, err // it names the path
	}
	logger.Warn("no Unix socket for onepassctl: the local API is on HTTP only (onepassctl --addr URL reaches it; give --socket PATH for a socket elsewhere)",
		"socket", path, "err", err)
	return nil, nil
}
