// Package idcard drives second-generation resident ID card readers built around the Ministry of
// Public Security SAM_V module (GA 467), over a serial port with go.bug.st/serial: the frame codec,
// every command, the poll loop that turns cards on the reader into device.Card events, and the
// parser of the card's 256-byte text block for resident ID cards, foreigner permanent-residence
// cards (2017 and 2023) and Hong Kong/Macao/Taiwan residence permits.
//
// The daemon opens it from its configuration as `[reader] driver = "ga467", port = "/dev/ttyUSB0",
// baud = 115200`. Package idcardsim plays the reader on a pseudo-terminal for tests and `--sim`.
// Protocol and design notes: docs/idcard.md.
//
// Privacy: the ID number and the photo exist in memory only; nothing here logs or stores them.
package idcard
