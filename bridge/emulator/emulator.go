package emulator

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/cifbridge/cifbridge/bridge/panel"
	"github.com/cifbridge/cifbridge/internal/logcap"
	"github.com/cifbridge/cifbridge/protocol"
)

// Config configures New. The zero value is a working emulator with the
// built-in metadata table, no data and no faults.
type Config struct {
	// Schema is the content of a JSON schema file extending or overriding
	// the built-in metadata (see doc.go). nil means built-ins only.
	Schema []byte
	// Seed is JSON seed data keyed by logical name:
	// {"contact":[{...}],"account":[...]}. nil means an empty store.
	Seed []byte
	// Faults is the initial fault profile. nil means no faults.
	Faults *protocol.FaultProfile
	// Logger receives debug lines per operation. The zero value is disabled.
	Logger zerolog.Logger
	// Now is the clock for createdon/modifiedon, reportTime and late
	// accounting. nil means time.Now.
	Now func() time.Time
	// MaxRecords bounds the records created at run time that are kept, so
	// that a long load run keeps bounded memory and the emulator stays
	// "zero latency": past it the oldest record that was not read, updated
	// or pointed to since eviction last passed it is dropped (counted per
	// table in Stats). Seeded records are always kept and do not count.
	// 0 means DefaultMaxRecords; a negative value, no bound.
	MaxRecords int
}

// DefaultMaxRecords is the record bound when Config.MaxRecords is 0. Far
// beyond what a developer creates by hand, and small enough that the
// garbage collector's work on the store does not show in the bridge's
// latency under load (bench: p99 at half the maximum rate is ~4 ms with
// 5 000 records kept, ~9 ms with 25 000, 13-78 ms with 100 000 on 2 cores).
const DefaultMaxRecords = 5_000

// Emulator is the embedded Dataverse emulator. It is safe for concurrent use.
type Emulator struct {
	// Immutable after New.
	cat        *catalog
	rules      []DuplicateRule
	operations map[string]Operation
	altKeys    map[string][][]string // logical name → alternate keys (schema alternateKeys)
	env        map[string]any
	ids        identity
	log        zerolog.Logger
	now        func() time.Time
	// realClock is true when now is time.Now (Config.Now nil): a call
	// answered at once may then take its times from the attempt's clock
	// (run) instead of reading now again.
	realClock bool
	goneLog   *logcap.Sampler // one line per entity per 10 s for 404s of evicted records

	// mu guards store, patch, cols, newIDs and the stamp cache.
	mu        sync.RWMutex
	patch     row      // applyWrite's scratch buffer
	cols      []column // applyWrite's list of columns, reused: kept in the cache by every write, unlike a goroutine's stack
	numBuf    [20]byte // applyWrite's versionnumber digits
	newIDs    idSource
	stampSec  int64
	stampText string
	store     store

	faults   faultState  // own mutex
	stats    counters    // own mutex
	sessions panel.Table // own mutex
}

// identity holds the stable GUIDs WhoAmI and getenvironment report.
type identity struct {
	UserID, BusinessUnitID, OrganizationID string
}

// New builds an emulator. Errors name the file section at fault
// ("schema: entities[0].logicalName is required", "seed: contact[2]: …",
// "faults: rules[1].method is required").
func New(cfg Config) (*Emulator, error) {
	ents, schema, err := parseSchema(cfg.Schema)
	if err != nil {
		return nil, err
	}
	cat, err := newCatalog(ents)
	if err != nil {
		return nil, fmt.Errorf("schema: entities: %w", err)
	}
	if err := validateRules(cat, schema.DuplicateRules); err != nil {
		return nil, err
	}
	ops, err := validateOperations(cat, schema.Operations)
	if err != nil {
		return nil, err
	}
	altKeys, err := validateAltKeys(cat, schema.AlternateKeys)
	if err != nil {
		return nil, err
	}
	if err := validateAttributeTypes(cat, schema.AttributeTypes); err != nil {
		return nil, err
	}
	e := &Emulator{
		cat:        cat,
		rules:      slices.Clone(schema.DuplicateRules),
		operations: ops,
		altKeys:    altKeys,
		log:        cfg.Logger.With().Str("backend", "emulator").Logger(),
		now:        cfg.Now,
		goneLog:    logcap.NewSampler(0),
	}
	if e.now == nil {
		e.now, e.realClock = time.Now, true
	}
	e.stats.opCount = make([]atomic.Int64, len(opIndex))
	e.env = defaultEnvironment()
	maps.Copy(e.env, schema.Environment)
	e.ids = identity{
		UserID:         envGUID(e.env, "userId"),
		OrganizationID: envGUID(e.env, "orgId"),
		BusinessUnitID: stableGUID("businessunit"),
	}
	for _, ent := range cat.byLogical {
		ent.packDefaults(e.ids.UserID)
		ent.packWriteTypes()
	}
	cat.filterCtx = filterContext{now: e.now, userID: e.ids.UserID, cat: cat,
		get: func(logical, id string) *record { return e.store.get(logical, id) },
		scan: func(logical string, fn func(*record) bool) {
			for _, r := range e.store.tables[logical].all() {
				if !fn(r) {
					return
				}
			}
		}}
	e.store.init()
	switch {
	case cfg.MaxRecords == 0:
		e.store.max = DefaultMaxRecords
	case cfg.MaxRecords > 0:
		e.store.max = cfg.MaxRecords
	}
	if cfg.Faults != nil {
		if err := e.SetFaults(*cfg.Faults); err != nil {
			return nil, fmt.Errorf("faults: %w", err)
		}
	}
	if err := e.applySeed(cfg.Seed); err != nil {
		return nil, err
	}
	return e, nil
}

// Name implements backend.Backend.
func (e *Emulator) Name() string { return "emulator" }

// Entity returns the metadata of a logical name.
func (e *Emulator) Entity(logicalName string) (EntityMeta, bool) {
	ent := e.cat.byLogical[logicalName]
	if ent == nil {
		return EntityMeta{}, false
	}
	m := ent.EntityMeta
	m.Attributes = slices.Clone(m.Attributes)
	m.Lookups = maps.Clone(m.Lookups)
	return m, true
}

// Entities returns the logical names of the metadata table, sorted.
func (e *Emulator) Entities() []string { return slices.Clone(e.cat.names) }

// Reset empties the store, the operation counters and the per-session
// state. The seed is not re-applied and the fault profile is kept.
func (e *Emulator) Reset() {
	e.mu.Lock()
	e.store.init()
	e.mu.Unlock()
	e.stats.reset()
	e.sessions.Reset()
}

func stableGUID(what string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:cifbridge:emulator:"+what)).String()
}

func envGUID(env map[string]any, key string) string {
	if s, ok := env[key].(string); ok {
		if u, err := uuid.Parse(s); err == nil {
			return u.String()
		}
	}
	return stableGUID(key)
}

func defaultEnvironment() map[string]any {
	return map[string]any{
		"clientUrl":          "https://emulator.crm.dynamics.com",
		"appUrl":             "https://emulator.crm.dynamics.com/main.aspx?appid=" + stableGUID("app"),
		"orgLcid":            1033,
		"orgUniqueName":      "emulator",
		"orgId":              stableGUID("orgId"),
		"userId":             stableGUID("userId"),
		"userLcid":           1033,
		"username":           "emulator@cifbridge.local",
		"userRoles":          []string{stableGUID("role")},
		"crmVersion":         "9.2.0.0",
		"isDirty":            false,
		"msdyn_customparams": "",
	}
}

// environment returns the getenvironment map as JSON.
func (e *Emulator) environment() json.RawMessage {
	b, _ := json.Marshal(e.env)
	return b
}
