package camtest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
)

// PNGClaiming is a real, tiny PNG (an 8×8 grey square) whose header claims width×height pixels,
// its checksum mended: what a decoder that trusts headers allocates for before it finds the data
// short. Tests of the image size limit send it.
func PNGClaiming(width, height uint32) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		panic(err) // encoding an in-memory image cannot fail
	}
	b := buf.Bytes()
	// 8-byte signature, then the IHDR chunk: length (4), "IHDR" (4), width (4), height (4), 5 more
	// bytes, CRC of type and data (4).
	binary.BigEndian.PutUint32(b[16:], width)
	binary.BigEndian.PutUint32(b[20:], height)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// BlankPNG is a real, valid PNG of width×height black pixels, 1 bit each: a 16000×16000 one
// is some 30 KB, and decoding it takes what its size says. It is written row by row, so making
// it needs no image of that size in memory.
func BlankPNG(width, height int) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&buf, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		buf.WriteString(typ)
		buf.Write(data)
		binary.Write(&buf, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(width))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(height))
	ihdr[8] = 1 // bit depth; colour type 0 (grey), deflate, no filter method, no interlace
	chunk("IHDR", ihdr)
	var idat bytes.Buffer
	z, _ := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	row := make([]byte, 1+(width+7)/8) // filter byte "none", then the row's bits
	for range height {
		z.Write(row)
	}
	z.Close()
	chunk("IDAT", idat.Bytes())
	chunk("IEND", nil)
	return buf.Bytes()
}
