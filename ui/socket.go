package ui

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// SocketGroup is the group that may use the daemon's Unix socket (onepassctl's users join it).
const SocketGroup = "onepass"

// ErrSocketInUse is a socket another daemon still answers on.
var ErrSocketInUse = errors.New("another onepassd answers on this socket")

// maxSocketPath is what sun_path holds on Linux, the terminating NUL included.
const maxSocketPath = 108

// ListenSocket binds the local API's Unix socket at path: mode 0660 whatever the umask, group
// group when that group exists (a chown that fails is logged, so a developer's machine without
// the group still works), parent directory created 0750 when missing. A stale socket left by a
// daemon that died is replaced; one a live daemon answers on is not (ErrSocketInUse). Closing the
// listener removes the socket file.
func ListenSocket(path, group string, logger *slog.Logger) (net.Listener, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if len(path) >= maxSocketPath {
		return nil, fmt.Errorf("ui: socket %s: path longer than %d bytes (a Unix socket limit)", path, maxSocketPath-1)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("ui: socket %s: %w", path, err)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("ui: socket: %w", err)
	}
	// Chmod after bind: the umask shaped the mode bind gave it. The parent directory (0750) keeps
	// others out for that instant.
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("ui: socket %s: %w", path, err)
	}
	if group != "" {
		chgrp(path, group, logger)
	}
	return l, nil
}

// removeStale removes a socket file nobody answers on. A file that is not a socket is left alone:
// the path is more likely a mistake than a leftover.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ui: socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("ui: socket %s: exists and is not a socket; not replacing it", path)
	}
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("ui: socket %s: %w (stop it, or give this one another --socket)", path, ErrSocketInUse)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		// Anything else (permission denied, a timeout) does not prove the socket dead.
		return fmt.Errorf("ui: socket %s: cannot tell whether a daemon answers on it: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ui: socket %s: remove the stale socket: %w", path, err)
	}
	return nil
}

func chgrp(path, group string, logger *slog.Logger) {
	g, err := user.LookupGroup(group)
	if err != nil {
		logger.Debug("socket group absent: the socket keeps the daemon's group", "socket", path, "group", group, "err", err)
		return
	}
	gid, err := strconv.Atoi(g.Gid)
	if err == nil {
		err = os.Chown(path, -1, gid)
	}
	if err != nil {
		logger.Warn("cannot give the socket to its group: only the daemon's user and group may use it",
			"socket", path, "group", group, "err", err)
	}
}

// SocketHandler is the handler for the Unix socket: the same routes as Handler, without the Host
// and cross-origin checks. Those stop a web page from reaching the loopback port through the
// user's browser; a browser cannot reach a Unix socket, and its file mode is the access check.
func (s *Server) SocketHandler() http.Handler { return s.mux }
