// Package wire is the sync protocol between a kiosk and the platform (the hub): the message types,
// the signed envelope every data-carrying body travels in, and the partition digests both sides
// keep of the status replica. sync/client and sync/hub share it, so the two ends cannot drift.
//
// Every body that carries data is an Envelope: the payload bytes (JSON) signed by the hub's batch
// key, plus the batch key's certificate signed by the root key the kiosk pinned at provisioning.
// The trust list uses the same envelope signed by the root key itself (specs/healthcode-jkm1.md,
// "Trust-list document"). docs/sync-protocol.md describes the format for third parties.
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Major is the protocol's major version. A kiosk refuses any other major version and says so.
const Major = 1

// ProtocolHeader is sent on every request and response ("1"); the payload's "v" field carries the
// same number inside the signature.
const ProtocolHeader = "Onepass-Protocol"

// Request headers a kiosk sends so the hub can list devices with their outbox lag.
const (
	HeaderOutboxDepth  = "Onepass-Outbox-Depth"  // visits waiting in the kiosk's outbox
	HeaderOutboxOldest = "Onepass-Outbox-Oldest" // RFC 3339 time of the oldest waiting visit
	HeaderVersion      = "Onepass-Software"      // the kiosk's software version
)

// HTTP paths served by the hub. All but Enroll need the device's client certificate.
const (
	PathEnroll   = "/v1/enroll"          // POST EnrollRequest → EnrollResponse (unsigned, over TLS to the pinned root)
	PathHead     = "/v1/head"            // GET ?nonce= → Head
	PathDelta    = "/v1/status/delta"    // GET ?epoch=&from= → StatusDelta
	PathSnapshot = "/v1/status/snapshot" // GET ?epoch=&lo=&hi= → StatusSnapshot
	PathTrust    = "/v1/trust"           // GET → the root-signed trust-list document
	PathRevoked  = "/v1/revoked"         // GET ?from= → Revoked
	PathPolicy   = "/v1/policy"          // GET → Policy
	PathKeys     = "/v1/keys"            // GET → Keys
	PathVisits   = "/v1/visits"          // POST Upload → Ack
)

// Payload types (the "type" field inside every signed payload): a kiosk checks the type it asked for,
// so a correctly signed body of another kind cannot be substituted.
const (
	TypeHead     = "head"
	TypeDelta    = "status_delta"
	TypeSnapshot = "status_snapshot"
	TypeRevoked  = "revoked"
	TypePolicy   = "policy"
	TypeKeys     = "keys"
	TypeAck      = "ack"
	TypeKeyCert  = "key_cert"
)

// Limits of one body, from the spec: ≤ 512 KiB per downstream chunk, ≤ 1,000 records or 1 MiB per
// upload.
const (
	MaxChunkBytes     = 512 << 10
	MaxUploadRecords  = 1000
	MaxUploadBytes    = 1 << 20
	MaxBodyBytes      = 4 << 20 // a reader refuses anything larger before parsing
	PersonKeySize     = 32
	CodeIDSize        = 16
	Partitions        = 256
	PartitionDigestSz = 16
)

// Header is the start of every signed payload.
type Header struct {
	V        int       `json:"v"`
	Type     string    `json:"type"`
	IssuedAt time.Time `json:"issued_at"`
}

// Head returns the header; every payload type embeds Header and so has this method, which lets
// Verifier.Open decode a payload once.
func (h Header) Head() Header { return h }

// Head proves freshness even when nothing changed: the state of every stream at IssuedAt.
type Head struct {
	Header
	Device   string      `json:"device"`
	Nonce    string      `json:"nonce"`     // echoed from the request: an old head cannot be replayed
	ValidFor int64       `json:"valid_for"` // seconds the hub vouches for this head
	Status   StatusHead  `json:"status"`
	Trust    SeqHead     `json:"trust"`
	Revoked  SeqHead     `json:"revoked"`
	Policy   VersionHead `json:"policy"`
	Keys     KeysHead    `json:"keys"`
}

// StatusHead is the status stream's state: sequence, key epoch, row count and the 256 partition
// digests (partition = first byte of the person key).
type StatusHead struct {
	Epoch            int64  `json:"epoch"`
	Seq              int64  `json:"seq"`
	MinSeq           int64  `json:"min_seq"` // a delta from below this needs a snapshot
	Count            int64  `json:"count"`
	PartitionDigests []byte `json:"partition_digests"` // 256 × 16 bytes, partition order
}

// SeqHead is the state of an append-style stream.
type SeqHead struct {
	Seq int64 `json:"seq"`
}

// VersionHead is the state of the policy stream.
type VersionHead struct {
	Version int64 `json:"version"`
}

// KeysHead names the current deployment-key epoch.
type KeysHead struct {
	Epoch int64 `json:"epoch"`
}

// StatusOp is one change of the status replica: a row to insert or replace, or (Del) a person to
// remove. Times are unix milliseconds; Expires 0 means none.
type StatusOp struct {
	Key     []byte `json:"k"`
	Del     bool   `json:"del,omitempty"`
	Status  int    `json:"s,omitempty"`
	AsOf    int64  `json:"a,omitempty"`
	Expires int64  `json:"e,omitempty"`
	Reason  string `json:"r,omitempty"`
}

// StatusDelta is one chunk of changes with From < seq ≤ To, in seq order, one op per key. When More
// is false the chunk is the last one and carries the count and digests the replica must have at To.
// SnapshotRequired says the cursor is too old (or of another epoch): download a snapshot instead.
type StatusDelta struct {
	Header
	Epoch            int64      `json:"epoch"`
	From             int64      `json:"from"`
	To               int64      `json:"to"`
	More             bool       `json:"more"`
	SnapshotRequired bool       `json:"snapshot_required,omitempty"`
	Ops              []StatusOp `json:"ops"`
	Count            int64      `json:"count,omitempty"`
	PartitionDigests []byte     `json:"partition_digests,omitempty"`
}

// StatusSnapshot is one chunk of a snapshot: every row with Lo ≤ key < Next, in key order, read at
// stream sequence Seq. Next is empty when the chunk reaches the requested upper bound Hi (empty Hi:
// the end of the key space). Applying it replaces the range [Lo, Next) of the replica.
type StatusSnapshot struct {
	Header
	Epoch int64      `json:"epoch"`
	Seq   int64      `json:"seq"`
	Lo    []byte     `json:"lo"`
	Hi    []byte     `json:"hi"`
	Next  []byte     `json:"next"`
	Rows  []StatusOp `json:"rows"`
}

// Revocation is one revoked health code (JKM1 cid) and when its row may go.
type Revocation struct {
	CID     []byte `json:"cid"`
	Expires int64  `json:"exp"` // unix ms
}

// Revoked is one chunk of the revoked-codes stream: revocations with From < seq ≤ To.
type Revoked struct {
	Header
	From int64        `json:"from"`
	To   int64        `json:"to"`
	More bool         `json:"more"`
	CIDs []Revocation `json:"cids"`
}

// PolicyVersion is one version of the hall policy; it applies from ValidFrom until a later version
// takes over. Durations are Go duration strings ("30m"). Empty fields keep the kiosk's own setting.
type PolicyVersion struct {
	Version      int64     `json:"version"`
	ValidFrom    time.Time `json:"valid_from"`
	FeverC       float64   `json:"fever_c,omitempty"`
	StatusMaxAge string    `json:"status_max_age,omitempty"`
	HardMaxAge   string    `json:"hard_max_age,omitempty"`
	AbsentStatus string    `json:"absent_status,omitempty"`
}

// Policy is the policy stream: the version in force and any future ones, delivered early so an
// offline kiosk switches on time.
type Policy struct {
	Header
	Version  int64           `json:"version"` // the highest version
	Versions []PolicyVersion `json:"versions"`
}

// SealedKey is a deployment key sealed to one device's key (HPKE, DHKEM P-256).
type SealedKey struct {
	Epoch  int64  `json:"epoch"`
	Sealed []byte `json:"sealed"`
}

// Keys is the keys stream for one device: its deployment keys and the platform's sealing key.
type Keys struct {
	Header
	Device            string      `json:"device"`
	Epoch             int64       `json:"epoch"` // the current epoch
	Keys              []SealedKey `json:"keys"`
	PlatformPublicKey []byte      `json:"platform_public_key"` // X25519, for sealing ID numbers
}

// Visit is the body of a record of kind "visit" (sync/store.Visit on the wire).
type Visit struct {
	Lane       string   `json:"lane"`
	Method     string   `json:"method"`
	PersonKey  []byte   `json:"person_key,omitempty"`
	SealedID   []byte   `json:"sealed_id,omitempty"`
	MaskedName string   `json:"masked_name"`
	TempC      *float64 `json:"temp_c,omitempty"`
	Outcome    string   `json:"outcome"`
	Reason     string   `json:"reason"`
	// Method "staff" only: a staff member's decision on a MANUAL visit (reason "staff_override").
	StaffID   string `json:"staff_id,omitempty"`  // who decided
	Overrides string `json:"overrides,omitempty"` // the ID of the visit it overrides
	Note      string `json:"note,omitempty"`      // the reason code chosen at the console
}

// Record is one uploaded outbox entry. ID is a UUID (v7 from the kiosk); the hub stores each ID
// once. Kind says which body is set; other kinds (tickets, device health) travel the same way.
type Record struct {
	ID    string          `json:"id"`
	Kind  string          `json:"kind"`
	At    time.Time       `json:"at"`
	Visit *Visit          `json:"visit,omitempty"`
	Body  json.RawMessage `json:"body,omitempty"` // kinds other than "visit"
}

// Upload is the body of POST /v1/visits.
type Upload struct {
	V       int      `json:"v"`
	Records []Record `json:"records"`
	// Telemetry is the kiosk's report of its own state (docs/sync-protocol.md, "Telemetry"); an
	// upload with no records and only the report is the idle kiosk's heartbeat.
	Telemetry *Telemetry `json:"telemetry,omitempty"`
}

// Rejection is a record the hub will never accept as sent; the kiosk quarantines it.
type Rejection struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Ack is the hub's answer to an upload: the IDs it holds (new or already there) and the ones it
// refuses, with the reason.
type Ack struct {
	Header
	Accepted []string    `json:"accepted"`
	Rejected []Rejection `json:"rejected,omitempty"`
}

// EnrollRequest is the body of POST /v1/enroll.
type EnrollRequest struct {
	V     int    `json:"v"`
	Token string `json:"token"`
	CSR   []byte `json:"csr"` // PKCS #10 DER, signed by the device's new key
}

// EnrollResponse gives the device its identity. Chain is the device CA then the root certificate
// (DER); the kiosk checks the root against its pinned key before storing anything.
type EnrollResponse struct {
	V           int      `json:"v"`
	Device      string   `json:"device"`
	Hall        string   `json:"hall"`
	Lanes       int      `json:"lanes"`
	Certificate []byte   `json:"certificate"` // the device's client certificate, DER
	Chain       [][]byte `json:"chain"`
	KeyCert     Envelope `json:"key_cert"` // the hub batch key's certificate, root-signed
}

// Error is the JSON body of every error response.
type Error struct {
	V     int    `json:"v"`
	Error string `json:"error"`
}

// ErrVersion is returned for a payload of a major version this build does not speak.
var ErrVersion = errors.New("wire: unknown protocol major version")

// checkHeader checks version and type of a decoded payload.
func checkHeader(h Header, want string) error {
	if h.V != Major {
		return fmt.Errorf("%w %d (this kiosk speaks %d)", ErrVersion, h.V, Major)
	}
	if h.Type != want {
		return fmt.Errorf("wire: payload type %q, want %q", h.Type, want)
	}
	return nil
}
