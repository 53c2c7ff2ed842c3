package device

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Params is the configuration section of one part, as written in the config file
// (for example `[reader] driver = "ga467", port = "/dev/ttyUSB0"`), minus the driver key.
type Params map[string]any

// Decode fills v (a pointer to a struct with json tags) from the parameters and refuses keys that v
// does not have, naming the key, so a typo in the config file stops the daemon with a clear message.
func (p Params) Decode(v any) error {
	b, err := json.Marshal(map[string]any(p))
	if err != nil {
		return fmt.Errorf("encode parameters: %w", err)
	}
	if err := decodeStrict(b, v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("unknown key %s", name)
		}
		if key := p.badKey(v); key != "" {
			return fmt.Errorf("bad value for key %q: %w", key, err)
		}
		return fmt.Errorf("bad value: %w", err)
	}
	return nil
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// badKey finds the key whose value v's type refuses, by decoding each key alone into a fresh
// value: encoding/json does not say which field an UnmarshalJSON error (a Duration's) came from.
func (p Params) badKey(v any) string {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return ""
	}
	for _, k := range slices.Sorted(maps.Keys(p)) {
		b, err := json.Marshal(map[string]any{k: p[k]})
		if err != nil {
			return k
		}
		if decodeStrict(b, reflect.New(t.Elem()).Interface()) != nil {
			return k
		}
	}
	return ""
}

// Opener opens a part of kind T from its configuration.
type Opener[T Part] func(ctx context.Context, p Params) (T, error)

// registry maps driver names to openers. Drivers register in init, as database/sql drivers do,
// so adding a driver touches no existing file; after init the registry is only read.
type registry[T Part] struct {
	kind    string
	mu      sync.RWMutex
	openers map[string]Opener[T]
}

func (r *registry[T]) register(name string, open Opener[T]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if open == nil {
		panic("device: nil opener for " + r.kind + " driver " + name)
	}
	if _, dup := r.openers[name]; dup {
		panic("device: " + r.kind + " driver " + name + " registered twice")
	}
	if r.openers == nil {
		r.openers = make(map[string]Opener[T])
	}
	r.openers[name] = open
}

func (r *registry[T]) open(ctx context.Context, name string, p Params) (T, error) {
	r.mu.RLock()
	open, ok := r.openers[name]
	r.mu.RUnlock()
	if !ok {
		var zero T
		return zero, fmt.Errorf("unknown %s driver %q (known: %s)", r.kind, name, strings.Join(r.names(), ", "))
	}
	part, err := open(ctx, p)
	if err != nil {
		return part, fmt.Errorf("%s driver %q: %w", r.kind, name, err)
	}
	return part, nil
}

func (r *registry[T]) names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for n := range r.openers {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

var (
	cardReaders  = &registry[CardReader]{kind: "reader"}
	thermometers = &registry[Thermometer]{kind: "thermometer"}
	scanners     = &registry[CodeScanner]{kind: "camera"}
	printers     = &registry[TicketPrinter]{kind: "printer"}
	signals      = &registry[Signal]{kind: "signal"}
)

// RegisterCardReader makes a card reader driver available by name. It panics on a duplicate name.
func RegisterCardReader(name string, open Opener[CardReader]) { cardReaders.register(name, open) }

// RegisterThermometer makes a thermometer driver available by name.
func RegisterThermometer(name string, open Opener[Thermometer]) { thermometers.register(name, open) }

// RegisterCodeScanner makes a camera / code scanner driver available by name.
func RegisterCodeScanner(name string, open Opener[CodeScanner]) { scanners.register(name, open) }

// RegisterTicketPrinter makes a ticket printer driver available by name.
func RegisterTicketPrinter(name string, open Opener[TicketPrinter]) { printers.register(name, open) }

// RegisterSignal makes a gate/LED/buzzer driver available by name.
func RegisterSignal(name string, open Opener[Signal]) { signals.register(name, open) }

// OpenCardReader opens the card reader driver called name.
func OpenCardReader(ctx context.Context, name string, p Params) (CardReader, error) {
	return cardReaders.open(ctx, name, p)
}

// OpenThermometer opens the thermometer driver called name.
func OpenThermometer(ctx context.Context, name string, p Params) (Thermometer, error) {
	return thermometers.open(ctx, name, p)
}

// OpenCodeScanner opens the camera driver called name.
func OpenCodeScanner(ctx context.Context, name string, p Params) (CodeScanner, error) {
	return scanners.open(ctx, name, p)
}

// OpenTicketPrinter opens the printer driver called name.
func OpenTicketPrinter(ctx context.Context, name string, p Params) (TicketPrinter, error) {
	return printers.open(ctx, name, p)
}

// OpenSignal opens the signal driver called name.
func OpenSignal(ctx context.Context, name string, p Params) (Signal, error) {
	return signals.open(ctx, name, p)
}

// Drivers lists the registered driver names per kind, for --help texts and error messages.
func Drivers() map[string][]string {
	return map[string][]string{
		cardReaders.kind:  cardReaders.names(),
		thermometers.kind: thermometers.names(),
		scanners.kind:     scanners.names(),
		printers.kind:     printers.names(),
		signals.kind:      signals.names(),
	}
}
