package wire

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// rowDomain separates row hashes from every other use of SHA-256 in the project.
const rowDomain = "onepass status row v1\x00"

// RowHash is the first 16 bytes of SHA-256 over a status row's canonical encoding:
//
//	"onepass status row v1" 0x00 ‖ person key (32) ‖ status (1 byte) ‖ as_of ms (8, big-endian)
//	‖ expires ms (8, big-endian) ‖ reason (UTF-8)
//
// A partition digest is the sum modulo 2^128 of the row hashes (as big-endian numbers) of its
// rows, so both ends update it per change in O(1) and the order of rows does not matter.
func RowHash(key []byte, status int, asOf, expires int64, reason string) [16]byte {
	h := sha256.New()
	var b [len(rowDomain) + PersonKeySize + 17]byte
	n := copy(b[:], rowDomain)
	n += copy(b[n:], key)
	b[n] = byte(status)
	binary.BigEndian.PutUint64(b[n+1:], uint64(asOf))
	binary.BigEndian.PutUint64(b[n+9:], uint64(expires))
	h.Write(b[:n+17])
	h.Write([]byte(reason))
	var out [16]byte
	copy(out[:], h.Sum(nil))
	return out
}

// OpHash is RowHash of a put op.
func OpHash(op StatusOp) [16]byte { return RowHash(op.Key, op.Status, op.AsOf, op.Expires, op.Reason) }

// Digest is a partition digest.
type Digest [16]byte

// Add adds a row hash (mod 2^128).
func (d *Digest) Add(h [16]byte) {
	hi, lo := binary.BigEndian.Uint64(d[:8]), binary.BigEndian.Uint64(d[8:])
	hhi, hlo := binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:])
	lo2 := lo + hlo
	carry := uint64(0)
	if lo2 < lo {
		carry = 1
	}
	binary.BigEndian.PutUint64(d[:8], hi+hhi+carry)
	binary.BigEndian.PutUint64(d[8:], lo2)
}

// Sub removes a row hash (mod 2^128).
func (d *Digest) Sub(h [16]byte) {
	hi, lo := binary.BigEndian.Uint64(d[:8]), binary.BigEndian.Uint64(d[8:])
	hhi, hlo := binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:])
	borrow := uint64(0)
	if lo < hlo {
		borrow = 1
	}
	binary.BigEndian.PutUint64(d[:8], hi-hhi-borrow)
	binary.BigEndian.PutUint64(d[8:], lo-hlo)
}

// Partition is the partition of a person key: its first byte.
func Partition(key []byte) int {
	if len(key) == 0 {
		return 0
	}
	return int(key[0])
}

// PackDigests concatenates 256 digests in partition order (the head's partition_digests).
func PackDigests(d *[Partitions]Digest) []byte {
	out := make([]byte, 0, Partitions*PartitionDigestSz)
	for i := range d {
		out = append(out, d[i][:]...)
	}
	return out
}

// UnpackDigests splits a partition_digests field.
func UnpackDigests(b []byte) (*[Partitions]Digest, error) {
	if len(b) != Partitions*PartitionDigestSz {
		return nil, fmt.Errorf("wire: partition digests of %d bytes, want %d", len(b), Partitions*PartitionDigestSz)
	}
	var d [Partitions]Digest
	for i := range d {
		copy(d[i][:], b[i*PartitionDigestSz:])
	}
	return &d, nil
}

// PartitionRange is the key range [lo, hi) of partition p; hi is nil for the last partition.
func PartitionRange(p int) (lo, hi []byte) {
	lo = []byte{byte(p)}
	if p < Partitions-1 {
		hi = []byte{byte(p + 1)}
	}
	return lo, hi
}

// CheckOp checks the shape of a status op from the wire.
func CheckOp(op StatusOp) error {
	if len(op.Key) != PersonKeySize {
		return fmt.Errorf("person key of %d bytes, want %d", len(op.Key), PersonKeySize)
	}
	if op.Del {
		return nil
	}
	if op.Status < 0 || op.Status > 3 {
		return fmt.Errorf("status %d out of range 0..3", op.Status)
	}
	if len(op.Reason) > 256 {
		return fmt.Errorf("reason of %d bytes exceeds 256", len(op.Reason))
	}
	return nil
}
