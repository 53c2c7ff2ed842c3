//go:build !linux

package idcard

import "go.bug.st/serial"

// openPort opens the reader's serial port at baud, 8N1 raw, with go.bug.st/serial where the
// poller-based tty (tty_linux.go) is not written.
func openPort(path string, baud int) (modePort, error) {
	return serial.Open(path, serialMode(baud))
}
