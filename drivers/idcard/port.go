package idcard

import "go.bug.st/serial"

// openPort opens the reader's serial port at baud, 8N1 raw. A hand-written poller-based tty was
// tried for idle CPU and measured no better (BenchmarkIdleCPU, docs/idcard.md), so the port stays
// with go.bug.st/serial.
func openPort(path string, baud int) (modePort, error) {
	return serial.Open(path, serialMode(baud))
}
