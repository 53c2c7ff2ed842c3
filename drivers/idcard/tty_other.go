//go:build !linux

package idcard

import "go.bug.st/serial"

// openPort opens the port with go.bug.st/serial where the poller-based tty is not written.
func openPort(path string, baud int) (modePort, error) {
	return serial.Open(path, serialMode(baud))
}
