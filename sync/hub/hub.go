// Package hub is the reference platform server of the sync protocol (docs/sync-protocol.md): it
// enrolls devices with one-time tokens and a device CA, serves signed heads, status deltas and
// snapshots, the root-signed trust list, revoked codes, policy and deployment keys over mutual TLS,
// and ingests visit batches exactly once by record ID. Its state is one database: a SQLite file in
// its own data directory, or PostgreSQL shared by several replicas (Options.DB; see db.go); admin
// operations (the onepass-hub subcommands) are methods on Hub that write that database, so they
// work while another process serves it.
package hub

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"onepass/internal/connlimit"
)

// Options tune a hub; the zero value is a production hub.
type Options struct {
	Logger *slog.Logger
	// Now is the hub's clock (default time.Now); tests move it.
	Now func() time.Time
	// HeadValidFor is how long the hub vouches for a head (default 48 h, the Swiss figure).
	HeadValidFor time.Duration
	// Retention is how long status tombstones are kept for deltas; an older cursor gets a
	// snapshot (default 30 days).
	Retention time.Duration
	// DeviceCertValidity is the lifetime of an enrolled device's certificate (default 2 years).
	DeviceCertValidity time.Duration
	// ChunkBytes bounds one downstream chunk (default and maximum wire.MaxChunkBytes).
	ChunkBytes int
	// ConnsPerAddr caps the open connections from one client address (default 256): a hall's
	// kiosks may share one NAT address, each holding a kept-alive connection or two.
	ConnsPerAddr int
	// ReadTimeout and WriteTimeout bound reading a whole request and writing a response
	// (default 60s each); IdleTimeout a kept-alive connection between requests (default 2m).
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// DB is the database: "" for the SQLite file hub.db in the data directory, or a PostgreSQL
	// URL (postgres://…) that several replicas may share; the data directory then holds only
	// the keys.
	DB string
	// MaxSkew is how far a kiosk's clock may run ahead of the hub's (the kiosks' [trust] max_skew;
	// default DefaultMaxSkew). A record dated more than MaxSkew and a day after the hub's clock is
	// refused.
	MaxSkew time.Duration
	// TelemetryEvery is how often a device's report goes into its history when nothing changed
	// (default 1 min; a part or paper state that changed goes in at once). TelemetryKeep is how
	// long the history is kept (default 24 h), and TelemetryRows the most reports kept per device
	// (default 2,000, against a part that flaps).
	TelemetryEvery, TelemetryKeep time.Duration
	TelemetryRows                 int
}

// DefaultMaxSkew is Options.MaxSkew's default, the kiosks' default [trust] max_skew.
const DefaultMaxSkew = 2 * time.Minute

// Hub is an open hub data directory.
type Hub struct {
	dir  string
	db   *db
	w, r conn // the writers and the readers (separate pools)
	keys *keyring
	log  *slog.Logger
	now  func() time.Time
	opt  Options

	mu   sync.Mutex
	seen map[string]seenAt // device → what was last written about it (throttles writes)
}

type seenAt struct {
	at    time.Time
	depth string
}

// Open opens a hub data directory made by Init.
func Open(ctx context.Context, dir string, o Options) (*Hub, error) {
	keys, err := loadKeys(dir)
	if err != nil {
		return nil, err
	}
	d, err := openDB(ctx, dir, o.DB)
	if err != nil {
		return nil, fmt.Errorf("hub: open %s: %w", dir, err)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HeadValidFor <= 0 {
		o.HeadValidFor = 48 * time.Hour
	}
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	if o.DeviceCertValidity <= 0 {
		o.DeviceCertValidity = 2 * 365 * 24 * time.Hour
	}
	if o.ChunkBytes <= 0 || o.ChunkBytes > maxChunk {
		o.ChunkBytes = maxChunk
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = DefaultMaxSkew
	}
	if o.TelemetryEvery <= 0 {
		o.TelemetryEvery = time.Minute
	}
	if o.TelemetryKeep <= 0 {
		o.TelemetryKeep = 24 * time.Hour
	}
	if o.TelemetryRows <= 0 {
		o.TelemetryRows = 2000
	}
	if o.ConnsPerAddr <= 0 {
		o.ConnsPerAddr = 256
	}
	for d, def := range map[*time.Duration]time.Duration{&o.ReadTimeout: time.Minute, &o.WriteTimeout: time.Minute, &o.IdleTimeout: 2 * time.Minute} {
		if *d <= 0 {
			*d = def
		}
	}
	h := &Hub{dir: dir, db: d, w: conn{d.w, d.pg}, r: conn{d.r, d.pg}, keys: keys, log: o.Logger, now: o.Now, opt: o, seen: map[string]seenAt{}}
	if err := h.ensureEpoch(ctx); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Close closes the database.
func (h *Hub) Close() error {
	return h.db.close()
}

// Dir is the hub's data directory.
func (h *Hub) Dir() string { return h.dir }

// RootSPKI is the root public key kiosks pin (SubjectPublicKeyInfo DER).
func (h *Hub) RootSPKI() []byte { return h.keys.rootCert.RawSubjectPublicKeyInfo }

// PlatformPublicKey is the X25519 key kiosks seal ID numbers to.
func (h *Hub) PlatformPublicKey() []byte { return append([]byte(nil), h.keys.platformPub...) }

// TLSConfig is the server side of mutual TLS: the hub's certificate chain (up to the root), and
// client certificates verified against the device CA when presented. Enrollment is the only
// request served without one; every other handler checks the device itself.
func (h *Hub) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(h.keys.caCert)
	return &tls.Config{
		Certificates: []tls.Certificate{h.keys.tls},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}
}

// Serve serves the protocol over TLS on l until ctx is done, pruning old tombstones hourly.
func (h *Hub) Serve(ctx context.Context, l net.Listener) error {
	return h.ServeWith(ctx, l, nil)
}

// ServeWith is Serve with the protocol handler wrapped by wrap (nil: none): onepass-hub serve
// mounts the operators' dashboard beside it (dashboard.Mount); tests put a fault injector
// between TLS and the hub.
func (h *Hub) ServeWith(ctx context.Context, l net.Listener, wrap func(http.Handler) http.Handler) error {
	handler := h.Handler()
	if wrap != nil {
		handler = wrap(handler)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: min(10*time.Second, h.opt.ReadTimeout),
		ReadTimeout:       h.opt.ReadTimeout,
		WriteTimeout:      h.opt.WriteTimeout,
		IdleTimeout:       h.opt.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	// The cap counts TCP connections, under TLS, so an address over it costs no handshake.
	tl := tls.NewListener(connlimit.New(l, h.opt.ConnsPerAddr), h.TLSConfig())
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				srv.Shutdown(sctx)
				cancel()
				return
			case <-t.C:
				if n, err := h.Prune(ctx); err != nil {
					h.log.Warn("hub: prune tombstones", "err", err)
				} else if n > 0 {
					h.log.Info("hub: pruned status tombstones", "rows", n)
				}
				if _, err := h.PruneTelemetry(ctx); err != nil {
					h.log.Warn("hub: prune telemetry history", "err", err)
				}
			}
		}
	}()
	err := srv.Serve(tl)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("hub: serve: %w", err)
}

// ListenAndServe listens on addr (":8443") and serves until ctx is done.
func (h *Hub) ListenAndServe(ctx context.Context, addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return h.Serve(ctx, l)
}

// Exists reports whether dir holds an initialized hub.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "keys", rootKeyFile))
	return err == nil
}
