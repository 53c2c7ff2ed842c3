package mlx90614

// PEC is the SMBus packet error code: CRC-8 with polynomial x⁸+x²+x+1 (0x07), initial value 0,
// over every byte of the message as it travels on the wire (addresses with their R/W bit included).
// For a read word that is SA<<1, command, SA<<1|1, LSB, MSB; for a write word SA<<1, command, LSB, MSB.
func PEC(b ...byte) byte {
	var crc byte
	for _, x := range b {
		crc = pecTable[crc^x]
	}
	return crc
}

// pecTable is computed once at package initialisation; it is never written afterwards.
var pecTable = func() (t [256]byte) {
	for i := range t {
		c := byte(i)
		for range 8 {
			if c&0x80 != 0 {
				c = c<<1 ^ 0x07
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()
