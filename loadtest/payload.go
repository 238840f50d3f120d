package loadtest

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
)

// Realistic data: the people a contact-centre widget logs calls for.
var (
	firstNames = []string{"Aino", "Eero", "Helmi", "Juhani", "Kaisa", "Lauri", "Maija", "Niko", "Olivia", "Pekka",
		"Sanna", "Tuomas", "Ada", "Grace", "Alan", "Linus", "Emma", "Oskari", "Venla", "Ilmari"}
	lastNames = []string{"Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen",
		"Koskinen", "Järvinen", "Lovelace", "Hopper", "Turing", "Torvalds", "Lehtonen", "Salminen"}
	cities    = []string{"Helsinki", "Espoo", "Tampere", "Turku", "Oulu", "Stockholm", "Amsterdam"}
	jobTitles = []string{"Support Agent", "Team Lead", "Buyer", "CFO", "Field Engineer", "Office Manager"}
	subjects  = []string{"Inbound call", "Outbound call", "Callback request", "Missed call", "Order follow-up"}
)

// idPool holds record ids created during the run, for retrieves, updates,
// deletes and phonecall regarding-links. It is bounded (a ring). A pool
// with an aging clock also forgets ids older than the clock's maxAge.
type idPool struct {
	mu    sync.Mutex
	ids   []pooledID
	pos   int
	max   int          // 0: poolCap
	clock *createClock // nil: ids never age (nothing counts creates)
	aging bool         // drop ids older than clock.maxAge
}

type pooledID struct {
	id string
	at int64 // clock.n when the create was answered
}

// createClock counts the creates the run got an id back for, over every
// session: the age of a pooled id in creates. The emulator evicts by
// creates, not by time (its record bound, oldest first), so an id more
// than maxAge creates old may be gone, even when the pools together hold
// far fewer ids than the bound: one session lagging behind the others
// (open loop past what the bridge can answer, or just an unlucky one)
// keeps ids that every other session's creates have pushed out.
type createClock struct {
	n      atomic.Int64
	maxAge int64 // 0: no limit
}

// newCreateClock returns the clock for an emulator that keeps at most
// maxRecords records (0 or less: no bound). An id half the bound old is
// still kept by the emulator however the evictions went (they take the
// oldest first, and seeded records are never evicted), with room for the
// creates still on their way while an id is picked and sent.
func newCreateClock(maxRecords int) *createClock {
	c := &createClock{}
	if maxRecords > 0 {
		c.maxAge = int64(max(1, maxRecords/2))
	}
	return c
}

// poolCap is how many recent ids a pool keeps unless the emulator's record
// bound asks for fewer (see poolSize).
const poolCap = 512

// poolSize fits the per-session pools to the emulator's record bound
// (GET /api/v1/emulator/stats maxRecords; 0 = none): all pools together hold
// at most a quarter of what the emulator keeps, so the ids a run picks are
// never ones the emulator already evicted to stay within its bound.
func poolSize(maxRecords, sessions int) int {
	if maxRecords <= 0 || sessions <= 0 {
		return poolCap
	}
	return min(poolCap, max(8, maxRecords/(4*sessions)))
}

func (p *idPool) add(id string) {
	e := pooledID{id: id}
	if p.clock != nil {
		e.at = p.clock.n.Add(1)
	}
	p.mu.Lock()
	limit := p.max
	if limit <= 0 {
		limit = poolCap
	}
	if len(p.ids) < limit {
		p.ids = append(p.ids, e)
	} else {
		p.ids[p.pos] = e
		p.pos = (p.pos + 1) % limit
	}
	p.mu.Unlock()
}

func (p *idPool) pick(r *rand.Rand) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ids) == 0 {
		return "", false
	}
	e := p.ids[r.IntN(len(p.ids))]
	if p.stale(e) {
		p.dropStale()
		if len(p.ids) == 0 {
			return "", false
		}
		e = p.ids[r.IntN(len(p.ids))]
	}
	return e.id, true
}

// stale reports whether the emulator may have evicted e by now.
func (p *idPool) stale(e pooledID) bool {
	return p.aging && p.clock.maxAge > 0 && p.clock.n.Load()-e.at > p.clock.maxAge
}

// dropStale forgets every stale id, keeping the rest in ring order.
func (p *idPool) dropStale() {
	kept := make([]pooledID, 0, len(p.ids))
	// Oldest first: the ring's oldest entry is at pos once it is full, so
	// the kept ids are a ring whose oldest entry is at 0.
	for i := range p.ids {
		e := p.ids[(p.pos+i)%len(p.ids)]
		if !p.stale(e) {
			kept = append(kept, e)
		}
	}
	p.ids, p.pos = kept, 0
}

// take removes and returns an id (for deletes, so nothing picks it again).
func (p *idPool) take() (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.ids)
	if n == 0 {
		return "", false
	}
	id := p.ids[n-1].id
	p.ids = p.ids[:n-1]
	if p.pos >= len(p.ids) {
		p.pos = 0
	}
	return id, true
}

// gen builds params for one session. Not safe for concurrent use.
type gen struct {
	r          *rand.Rand
	contacts   *idPool // this session's contacts
	shared     *idPool // seeded contacts, shared by every session
	phonecalls *idPool // this session's phonecalls (deleted first)
}

func newGen(seed uint64, session int, shared *idPool, pool int) *gen {
	return &gen{
		r:          rand.New(rand.NewPCG(seed, uint64(session)+1)),
		contacts:   &idPool{max: pool, clock: shared.clock, aging: true},
		shared:     shared,
		phonecalls: &idPool{max: pool, clock: shared.clock, aging: true},
	}
}

// missingID is a well-formed GUID no record has: calls that need an id when
// none exists yet get a 404 from the backend (still a real operation).
const missingID = "00000000-0000-4000-8000-00000000dead"

func (g *gen) contactID() string {
	if id, ok := g.contacts.pick(g.r); ok && g.r.IntN(4) != 0 {
		return id
	}
	if id, ok := g.shared.pick(g.r); ok {
		return id
	}
	if id, ok := g.contacts.pick(g.r); ok {
		return id
	}
	return missingID
}

func pickS(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

func appendKV(b []byte, k, v string) []byte {
	b = append(b, '"')
	b = append(b, k...)
	b = append(b, `":`...)
	return strconv.AppendQuote(b, v)
}

func (g *gen) phone(b []byte) []byte {
	b = append(b, `"+35840`...)
	b = strconv.AppendInt(b, int64(1000000+g.r.IntN(9000000)), 10)
	return append(b, '"')
}

// contactValue appends a contact's columns.
func (g *gen) contactValue(b []byte) []byte {
	first, last := pickS(g.r, firstNames), pickS(g.r, lastNames)
	b = append(b, '{')
	b = appendKV(b, "firstname", first)
	b = append(b, ',')
	b = appendKV(b, "lastname", last)
	b = append(b, ',')
	b = appendKV(b, "fullname", first+" "+last)
	b = append(b, `,"telephone1":`...)
	b = g.phone(b)
	b = append(b, `,"mobilephone":`...)
	b = g.phone(b)
	b = append(b, ',')
	b = appendKV(b, "emailaddress1", first+"."+last+"@example.com")
	b = append(b, ',')
	b = appendKV(b, "jobtitle", pickS(g.r, jobTitles))
	b = append(b, ',')
	b = appendKV(b, "address1_city", pickS(g.r, cities))
	return append(b, '}')
}

// phonecallValue appends a phonecall regarding a contact.
func (g *gen) phonecallValue(b []byte) []byte {
	b = append(b, '{')
	b = appendKV(b, "subject", pickS(g.r, subjects))
	b = append(b, `,"phonenumber":`...)
	b = g.phone(b)
	b = append(b, `,"directioncode":`...)
	b = strconv.AppendBool(b, g.r.IntN(2) == 0)
	b = append(b, `,"actualdurationminutes":`...)
	b = strconv.AppendInt(b, int64(1+g.r.IntN(30)), 10)
	if id := g.contactID(); id != missingID {
		b = append(b, `,"regardingobjectid_contact_phonecall@odata.bind":"/contacts(`...)
		b = append(b, id...)
		b = append(b, `)"`...)
	}
	return append(b, '}')
}

// newRecord appends the opening of a create that names its entity
// (phonecallHead 3 times in 10, else contactHead) and the new record.
func (g *gen) newRecord(b []byte, phonecallHead, contactHead string) []byte {
	if g.r.IntN(10) < 3 {
		return g.phonecallValue(append(b, phonecallHead...))
	}
	return g.contactValue(append(b, contactHead...))
}

func (g *gen) createRecord(b []byte) []byte {
	b = g.newRecord(b, `{"entityName":"phonecall","value":`, `{"entityName":"contact","value":`)
	return append(b, '}')
}

func (g *gen) retrieveRecord(b []byte) []byte {
	b = append(b, `{"entityName":"contact","entityId":"`...)
	b = append(b, g.contactID()...)
	return append(b, `","queryParameters":"?$select=fullname,telephone1,mobilephone,emailaddress1"}`...)
}

func (g *gen) updateRecord(b []byte) []byte {
	b = append(b, `{"entityName":"contact","entityId":"`...)
	b = append(b, g.contactID()...)
	b = append(b, `","value":{`...)
	b = appendKV(b, "jobtitle", pickS(g.r, jobTitles))
	b = append(b, `,"telephone2":`...)
	b = g.phone(b)
	return append(b, "}}"...)
}

func (g *gen) deleteRecord(b []byte) []byte {
	if id, ok := g.phonecalls.take(); ok {
		b = append(b, `{"entityName":"phonecall","entityId":"`...)
		b = append(b, id...)
		return append(b, `"}`...)
	}
	id, ok := g.contacts.take()
	if !ok {
		id = missingID
	}
	b = append(b, `{"entityName":"contact","entityId":"`...)
	b = append(b, id...)
	return append(b, `"}`...)
}

func (g *gen) search(b []byte) []byte {
	b = append(b, `{"entityName":"contact","queryParameters":"?$select=fullname,telephone1&$filter=contains(fullname,'`...)
	b = append(b, pickS(g.r, lastNames)...)
	return append(b, `')&$top=5"}`...)
}

func empty(_ *gen, b []byte) []byte { return append(b, "{}"...) }

func (g *gen) setMode(b []byte) []byte {
	b = append(b, `{"value":`...)
	b = strconv.AppendInt(b, int64(g.r.IntN(3)), 10)
	return append(b, '}')
}

func (g *gen) setWidth(b []byte) []byte {
	b = append(b, `{"value":`...)
	b = strconv.AppendInt(b, int64(300+g.r.IntN(300)), 10)
	return append(b, '}')
}

func (g *gen) setClickToAct(b []byte) []byte {
	b = append(b, `{"value":`...)
	b = strconv.AppendBool(b, g.r.IntN(2) == 0)
	return append(b, '}')
}

func (g *gen) entityMetadata(b []byte) []byte {
	return append(b, `{"entityName":"contact","attributes":["fullname","telephone1","mobilephone"]}`...)
}

// xrmRetry are the retry settings of enreach.xrm.* calls: Enreach's 3
// retries with a 200 ms delay instead of 1 s, so a load run stays short.
const xrmRetry = `,"maxRetries":3,"delay":200}`

func (g *gen) xrmCreate(b []byte) []byte {
	b = g.newRecord(b, `{"entityLogicalName":"phonecall","data":`, `{"entityLogicalName":"contact","data":`)
	return append(b, xrmRetry...)
}

func (g *gen) xrmRetrieve(b []byte) []byte {
	b = append(b, `{"entityLogicalName":"contact","id":"`...)
	b = append(b, g.contactID()...)
	b = append(b, `","options":"?$select=fullname,telephone1"`...)
	return append(b, xrmRetry...)
}

func (g *gen) xrmUpdate(b []byte) []byte {
	b = append(b, `{"entityLogicalName":"contact","id":"`...)
	b = append(b, g.contactID()...)
	b = append(b, `","data":{`...)
	b = appendKV(b, "jobtitle", pickS(g.r, jobTitles))
	b = append(b, '}')
	return append(b, xrmRetry...)
}

// xrmExecuteCreate is Xrm.WebApi.online.execute with a CreateRequest
// ({etn, payload}, metaData operationType 2 "Create"): a logical create the
// retry engine retries and tracks in the ledger like createRecord, answered
// with the same XrmCreateResult. execute takes no retry settings: the
// engine's defaults (3 retries, 1 s apart) apply.
func (g *gen) xrmExecuteCreate(b []byte) []byte {
	if g.r.IntN(10) < 3 {
		b = append(b, `{"data":{"etn":"phonecall","payload":`...)
		b = g.phonecallValue(b)
	} else {
		b = append(b, `{"data":{"etn":"contact","payload":`...)
		b = g.contactValue(b)
	}
	return append(b, `},"metaData":{"operationType":2,"operationName":"Create"}}`...)
}
