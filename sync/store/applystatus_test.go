package store

import (
	"bytes"
	"strings"
	"testing"
)

func TestRangePartitions(t *testing.T) {
	for _, tc := range []struct {
		name        string
		lo, hi      []byte
		first, end  int
		description string
	}{
		{"everything", []byte{}, nil, 0, Partitions, "no bounds"},
		{"one whole partition", []byte{7}, []byte{8}, 7, 8, "hi is the next partition's first key"},
		{"last partition", []byte{255}, nil, 255, Partitions, "unbounded above"},
		{"into a partition", []byte{7, 1}, []byte{9, 0, 1}, 7, 10, "hi reaches into partition 9"},
		{"hi zero", []byte{}, []byte{0}, 0, 1, "a lone 0 byte still counts partition 0"},
		{"empty hi", []byte{3}, []byte{}, 3, Partitions, "an empty non-nil hi is no upper partition"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, end := StatusChange{Lo: tc.lo, Hi: tc.hi}.rangePartitions()
			if first != tc.first || end != tc.end {
				t.Errorf("[%x, %x): partitions [%d, %d), want [%d, %d) (%s)", tc.lo, tc.hi, first, end, tc.first, tc.end, tc.description)
			}
		})
	}
}

func TestStatusChangeCheck(t *testing.T) {
	key := bytes.Repeat([]byte{1}, PersonKeySize)
	for _, tc := range []struct {
		name string
		ch   StatusChange
		want string // "" accepts
	}{
		{"empty", StatusChange{}, ""},
		{"good", StatusChange{Put: []StatusRow{{PersonKey: key, Status: 3}}, Delete: [][]byte{key}}, ""},
		{"short key", StatusChange{Put: []StatusRow{{PersonKey: key[:5]}}}, "row 0: person key is 5 bytes, want 32"},
		{"status", StatusChange{Put: []StatusRow{{PersonKey: key}, {PersonKey: key, Status: 4}}}, "row 1: status 4 out of range 0..3"},
		{"negative status", StatusChange{Put: []StatusRow{{PersonKey: key, Status: -1}}}, "row 0: status -1 out of range"},
		{"short delete", StatusChange{Delete: [][]byte{key, nil}}, "delete 1: person key is 0 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.ch.check()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}
