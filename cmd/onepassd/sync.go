package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/cmd/internal/config"
	"onepass/device"
	"onepass/identity"
	"onepass/kiosk"
	"onepass/kiosk/healthcode"
	"onepass/kiosk/policy"
	"onepass/signing"
	"onepass/sync/client"
	"onepass/sync/hub"
	"onepass/sync/store"
	"onepass/sync/wire"
	"onepass/ui"
	"onepass/ui/api"
)

// syncer runs sync/client inside the daemon once the kiosk is enrolled, and in --sim also the
// embedded hub (sync/hub over real HTTPS and mutual TLS on loopback) that plays the platform.
type syncer struct {
	cfg      config.Config
	db       *store.Store
	simulate bool
	clock    clockwork.Clock
	log      *slog.Logger
	base     *slog.Logger // the daemon's logger; the client and the hub add their own part
	dir      string       // <data>/sync
	keysDir  string       // <data>/keys

	hub    *hub.Hub // --sim only
	hubURL string

	mu      sync.Mutex
	c       *client.Client
	root    []byte
	lane    *kiosk.Lane
	cfgPol  policy.Policy // the configured policy, before the platform's
	applied policy.Policy
	telem   *telemetrySource // set by watch once the lane exists
	since   time.Time        // the daemon's start, for the reported uptime
	started chan struct{}    // closed when a client exists (enrollment)
	restart chan struct{}    // a later enrollment replaced the client
	cancel  context.CancelFunc
}

func newSyncer(cfg config.Config, db *store.Store, simulate bool, clock clockwork.Clock, logger *slog.Logger) *syncer {
	return &syncer{cfg: cfg, db: db, simulate: simulate, clock: clock, log: logger.With("part", "sync"), base: logger,
		dir: filepath.Join(cfg.Data, "sync"), keysDir: filepath.Join(cfg.Data, "keys"), started: make(chan struct{}), since: clock.Now()}
}

// start loads the enrollment, if any. In --sim without a configured [sync] hub or hubs it first starts
// the embedded hub, enrolls the kiosk there when needed and syncs once, so that keys and the
// replica are in place before the lane opens. It returns the root key to pin (base64) when that
// is the embedded hub's.
func (s *syncer) start(ctx context.Context) (simRoot string, err error) {
	if s.db == nil {
		return "", errors.New("no database: sync is off")
	}
	if root := s.cfg.Trust.Root; root != "" {
		if s.root, err = base64.StdEncoding.DecodeString(root); err != nil {
			return "", fmt.Errorf("trust.root: %w", err)
		}
	}
	if s.simulate && len(s.cfg.Sync.Replicas()) == 0 { // hubs name real hubs: no embedded one
		if err := s.startSimHub(ctx); err != nil {
			return "", fmt.Errorf("embedded hub: %w", err)
		}
		simRoot = base64.StdEncoding.EncodeToString(s.root)
	}
	if err := s.connect(); err != nil {
		if errors.Is(err, client.ErrNotEnrolled) {
			s.log.Info("not enrolled: sync is off until `onepassctl enroll --hub URL --token T`")
			return simRoot, nil
		}
		return simRoot, err
	}
	if s.hub != nil {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := s.client().SyncNow(sctx); err != nil {
			s.log.Warn("first sync with the embedded hub failed", "err", err)
		}
	}
	return simRoot, nil
}

// startSimHub runs the embedded hub from <data>/hub and enrolls the kiosk with it.
func (s *syncer) startSimHub(ctx context.Context) error {
	dir := filepath.Join(s.cfg.Data, "hub")
	if !hub.Exists(dir) {
		if err := hub.Init(dir, hub.InitOptions{Hosts: []string{"127.0.0.1"}}); err != nil {
			return err
		}
	}
	h, err := hub.Open(ctx, dir, hub.Options{Logger: s.base.With("part", "hub"), MaxSkew: s.cfg.Trust.MaxSkew.Duration})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.Close()
		return err
	}
	go func() {
		if err := h.Serve(ctx, l); err != nil {
			s.log.Error("embedded hub stopped", "err", err)
		}
		h.Close()
	}()
	s.hub, s.hubURL = h, "https://"+l.Addr().String()
	if s.root != nil && string(s.root) != string(h.RootSPKI()) {
		s.log.Warn("--sim pins the embedded hub's root instead of the configured [trust] root (set [sync] hub or hubs to use a real hub)")
	}
	s.root = h.RootSPKI()
	if err := s.ensureSimIssuer(ctx); err != nil {
		return err
	}
	if e, err := client.LoadEnrollment(s.dir); err == nil && string(e.Root) == string(s.root) {
		return nil
	}
	tok, err := h.NewToken(ctx, "sim", 1, time.Minute)
	if err != nil {
		return err
	}
	if _, err := client.Enroll(ctx, s.hubURL, tok, s.dir, s.root); err != nil {
		return err
	}
	s.log.Info("enrolled with the embedded hub", "hub", s.hubURL)
	return nil
}

// ensureSimIssuer puts the simulated code issuer (<data>/keys/sim-issuer.key, the key
// `onepass-hub code issue` signs with in --sim) into the embedded hub's trust list.
func (s *syncer) ensureSimIssuer(ctx context.Context) error {
	k, err := loadOrMakeKey(filepath.Join(s.keysDir, simIssuerKeyFile), signing.ES256)
	if err != nil {
		return err
	}
	pub := k.Public()
	if doc, err := s.hub.TrustDocument(ctx); err == nil && doc != nil {
		if root, err := signing.ParsePublicKey(s.hub.RootSPKI()); err == nil {
			if l, err := healthcode.OpenDocument(doc, root); err == nil {
				if is, ok := l.Issuer(simIssuerID); ok && len(is.Keys) > 0 && string(is.Keys[0].KID) == string(pub.KID()) {
					return nil
				}
			}
		}
	}
	now := s.clock.Now()
	_, err = s.hub.AddIssuer(ctx, signing.Issuer{ID: simIssuerID, Name: "模拟发码机构 (simulated issuer)", Region: "000000",
		Classes: []int{1, 2, 3}, Keys: []signing.IssuerKey{{Alg: pub.Alg(), PublicKey: pub.SPKI(),
			NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(10, 0, 0)}}})
	return err
}

// connect makes the client from the enrollment on disk.
func (s *syncer) connect() error {
	hubURL, hubs := s.cfg.Sync.Hub, s.cfg.Sync.Hubs
	if s.hub != nil {
		hubURL, hubs = s.hubURL, nil
	}
	c, err := client.New(client.Config{
		Hub: hubURL, Hubs: hubs, Dir: s.dir, KeysDir: s.keysDir, Root: s.root,
		PullEvery: s.cfg.Sync.PullInterval.Duration, PushEvery: s.cfg.Sync.PushInterval.Duration,
		MaxBackoff: s.cfg.Sync.MaxBackoff.Duration, OutboxLimit: s.cfg.Sync.OutboxLimit,
		MaxSkew: s.cfg.Trust.MaxSkew.Duration, Software: "onepassd/" + version,
		Clock: s.clock, Logger: s.base, OnKeys: s.onKeys, OnPolicy: func(wire.Policy) { s.applyPolicy(context.Background()) },
		Telemetry: s.telemetry,
	}, s.db)
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.c
	s.c = c
	if old == nil {
		close(s.started) // run starts the loops
	} else {
		if s.restart == nil {
			s.restart = make(chan struct{}, 1)
		}
		select {
		case s.restart <- struct{}{}: // run restarts the loops with the new client
		default:
		}
	}
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (s *syncer) client() *client.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

// attach hands sync's updates to the lane: keys after enrollment or rotation, the platform's
// policy over the configured one.
func (s *syncer) attach(ctx context.Context, lane *kiosk.Lane, base policy.Policy) {
	s.mu.Lock()
	s.lane, s.cfgPol, s.applied = lane, base, base
	s.mu.Unlock()
	s.applyPolicy(ctx)
}

// watch hands the telemetry the lane, the printer and the queue to report on.
func (s *syncer) watch(ts *telemetrySource) {
	s.mu.Lock()
	s.telem = ts
	s.mu.Unlock()
}

// telemetry is the daemon's part of the report the pushes carry (client.Config.Telemetry).
func (s *syncer) telemetry(context.Context) wire.Telemetry {
	t := wire.Telemetry{Version: "onepassd/" + version, UptimeS: int64(s.clock.Since(s.since).Seconds())}
	s.mu.Lock()
	ts := s.telem
	s.mu.Unlock()
	if ts != nil { // before the lane exists (the first sync in --sim) only the version and uptime
		ts.fill(&t)
	}
	return t
}

func (s *syncer) onKeys(k client.Keys) {
	sealer, err := identity.NewSealer(k.PlatformPub)
	if err != nil {
		s.log.Error("platform key from the hub is unusable", "err", err)
		return
	}
	s.mu.Lock()
	lane := s.lane
	s.mu.Unlock()
	if lane != nil {
		lane.SetKeys(kiosk.Keys{Deployment: k.Deployment, Sealer: sealer})
		s.log.Info("the lane uses the new deployment key", "epoch", k.Epoch)
	}
}

// applyPolicy sets the lane's policy: policy.InForce over the stored platform versions, at the
// hub's time when the skew is known.
func (s *syncer) applyPolicy(ctx context.Context) {
	if s.db == nil {
		return
	}
	s.mu.Lock()
	lane, p := s.lane, s.cfgPol
	s.mu.Unlock()
	if lane == nil {
		return
	}
	_, doc, err := s.db.Policy(ctx)
	if err != nil || doc == nil {
		return
	}
	var wp wire.Policy
	if err := json.Unmarshal(doc, &wp); err != nil {
		s.log.Warn("stored platform policy unreadable", "err", err)
		return
	}
	now := s.clock.Now()
	if c := s.client(); c != nil {
		if skew, ok := c.Skew(); ok {
			now = now.Add(skew)
		}
	}
	p, cur, err := policy.InForce(p, policyVersions(wp.Versions), now)
	if err != nil {
		s.log.Warn("platform policy refused", "version", cur.Version, "err", err)
		return
	}
	if cur == nil {
		return
	}
	s.mu.Lock()
	changed := p != s.applied
	s.applied = p
	s.mu.Unlock()
	if changed {
		lane.SetPolicy(p)
		s.log.Info("platform policy in force", "version", cur.Version, "fever_c", p.FeverC, "status_max_age", p.StatusMaxAge, "absent_status", p.AbsentStatus)
	}
}

// policyVersions hands the platform's versions to kiosk/policy; a status_max_age that does not
// parse is left unset, so the configured one stands.
func policyVersions(ws []wire.PolicyVersion) []policy.Version {
	vs := make([]policy.Version, len(ws))
	for i, w := range ws {
		vs[i] = policy.Version{Version: w.Version, ValidFrom: w.ValidFrom, FeverC: w.FeverC,
			AbsentStatus: policy.AbsentStatus(w.AbsentStatus)}
		if d, err := time.ParseDuration(w.StatusMaxAge); err == nil {
			vs[i].StatusMaxAge = d
		}
	}
	return vs
}

// run runs the client's loops (from enrollment on) and re-applies the policy every minute, so
// versions delivered early take over on time. It returns when ctx is done.
func (s *syncer) run(ctx context.Context) error {
	if s.db == nil {
		<-ctx.Done()
		return nil
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	runClient := func() {
		s.mu.Lock()
		if s.cancel != nil {
			s.cancel()
		}
		cctx, cancel := context.WithCancel(ctx)
		s.cancel = cancel
		c := s.c
		s.mu.Unlock()
		wg.Go(func() { c.Run(cctx) })
	}
	select {
	case <-s.started:
		runClient()
	case <-ctx.Done():
		return nil
	}
	t := s.clock.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
			s.applyPolicy(ctx)
		case <-s.restarted():
			runClient()
		}
	}
}

// restart is signalled when enrollment replaced the client.
func (s *syncer) restarted() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.restart == nil {
		s.restart = make(chan struct{}, 1)
	}
	return s.restart
}

// Health is the "sync" part of the lane.
func (s *syncer) Health() device.Health {
	c := s.client()
	if c == nil {
		return device.Health{State: device.NotConfigured, Reason: "not enrolled: onepassctl enroll --hub URL --token T"}
	}
	h := c.Health() // the client's states are device.HealthState's strings
	return device.Health{State: device.HealthState(h.State), Reason: h.Reason, Since: h.Since}
}

// status is the body of GET /api/sync.
func (s *syncer) status(ctx context.Context) api.SyncStatus {
	st := api.SyncStatus{EmbeddedHub: s.hubURL}
	if c := s.client(); c != nil {
		cs, err := apiSyncClient(c.Status(ctx))
		if err != nil {
			s.log.Warn("sync status", "err", err)
		}
		st.Enrolled, st.Status = true, cs
	}
	if s.db != nil {
		qs, err := s.db.QuarantinedRecords(ctx, 20)
		if err != nil {
			s.log.Warn("quarantine list", "err", err)
		}
		for _, q := range qs {
			st.Quarantine = append(st.Quarantine, api.Quarantined{ID: q.ID, Kind: q.Kind, At: q.At, Reason: q.Reason})
		}
	}
	return st
}

// enroll enrolls the kiosk (replacing an earlier enrollment) and starts syncing.
func (s *syncer) enroll(ctx context.Context, req api.EnrollRequest) error {
	if s.db == nil {
		return errors.New("no database: fix the data directory first")
	}
	if s.root == nil {
		return errors.New("no [trust] root in the configuration: provisioning must pin the platform's root key before enrollment")
	}
	e, err := client.Enroll(ctx, req.Hub, req.Token, s.dir, s.root)
	if err != nil {
		return err
	}
	// Configured replicas stay the hubs: the kiosk may enroll at any one of them.
	if len(s.cfg.Sync.Replicas()) == 0 && s.hub == nil {
		s.cfg.Sync.Hub = e.Hub
	}
	if err := s.connect(); err != nil {
		return err
	}
	// The loops start at once; the first pull may be a long snapshot, so it is not awaited here.
	s.log.Info("enrolled", "hub", e.Hub, "device", e.Device, "hall", e.Hall)
	return nil
}

// SetStatus serves POST /api/sim/status: `onepassctl sim set-status` sets the status at the
// embedded hub, as the platform's operators do, and returns once the kiosk pulled it through a
// signed delta.
func (s *syncer) SetStatus(ctx context.Context, req api.SimStatusRequest) error {
	st, err := hub.ParseStatus(req.Status)
	if err != nil {
		return err // 400
	}
	ct := identity.CertType(req.Type)
	if _, err := s.hub.SetStatus(ctx, hub.PersonRef{Type: ct, Number: req.ID}, st, "sim", 24*time.Hour); err != nil {
		return err // 400
	}
	c := s.client()
	if c == nil {
		return ui.WithStatus(http.StatusConflict, errors.New("the kiosk is not enrolled with the embedded hub"))
	}
	if err := c.Pull(ctx); err != nil {
		return ui.WithStatus(http.StatusBadGateway, errors.New("the hub has the status but the kiosk could not pull it: "+err.Error()))
	}
	return nil
}
