package idcardsim

// The simulator frames bytes with its own code, not the driver's: it is a second implementation of
// the far end, so a mistake in one shows up as a disagreement in the tests (both are also checked
// against the literal frames in the spec).

var preamble = [5]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69}

// reply frames a reader→host answer: preamble, LEN (big-endian: SW1 SW2 SW3 DATA CHK), SW1 SW2
// SW3, data, and the XOR of everything from LEN on.
func reply(sw3 byte, data []byte) []byte {
	size := 3 + len(data) + 1
	out := make([]byte, 0, 7+size)
	out = append(out, preamble[:]...)
	out = append(out, byte(size>>8), byte(size&0xFF), 0x00, 0x00, sw3)
	out = append(out, data...)
	chk := byte(0)
	for i := 5; i < len(out); i++ {
		chk ^= out[i]
	}
	return append(out, chk)
}

// request is one decoded host→reader command.
type request struct {
	cmd, para byte
	data      []byte
}

// parseOutcome says what the front of the input buffer holds.
type parseOutcome int

const (
	needMore   parseOutcome = iota // a request has started but is incomplete
	gotRequest                     // a whole, valid request
	badSum                         // a whole request with a wrong checksum: answer 10
	badLength                      // a length no command has: answer 11
	noise                          // bytes before any preamble: drop them silently
)

// maxRequest is the largest LEN a command can have (the longest real one is 4).
const maxRequest = 64

// parseRequest looks at the front of buf and returns what is there and how many bytes it covers.
func parseRequest(buf []byte) (parseOutcome, int, request) {
	start := -1
	for i := 0; i+len(preamble) <= len(buf); i++ {
		if [5]byte(buf[i:i+5]) == preamble {
			start = i
			break
		}
	}
	if start < 0 {
		// Keep up to four trailing bytes that may begin a preamble.
		keep := 0
		for k := 4; k > 0; k-- {
			if k <= len(buf) && string(buf[len(buf)-k:]) == string(preamble[:k]) {
				keep = k
				break
			}
		}
		if len(buf)-keep > 0 {
			return noise, len(buf) - keep, request{}
		}
		return needMore, 0, request{}
	}
	if start > 0 {
		return noise, start, request{}
	}
	if len(buf) < 7 {
		return needMore, 0, request{}
	}
	size := int(buf[5])<<8 + int(buf[6])
	if size < 3 || size > maxRequest {
		return badLength, 7, request{}
	}
	if len(buf) < 7+size {
		return needMore, 0, request{}
	}
	sum := byte(0)
	for _, b := range buf[5 : 7+size] {
		sum ^= b
	}
	if sum != 0 {
		return badSum, 7 + size, request{}
	}
	body := buf[7 : 7+size-1]
	return gotRequest, 7 + size, request{cmd: body[0], para: body[1], data: append([]byte(nil), body[2:]...)}
}
