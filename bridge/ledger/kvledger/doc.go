// Package kvledger is the duplicate ledger of a cifbridge cluster: a
// ledger.Store in one JetStream key-value bucket that every node reads and
// writes, so an entry written through one node is listed, updated and
// acknowledged through any other.
//
// # Storage
//
// One bucket (DefaultBucket), file storage, one value per key (history 1).
// Open creates it with three replicas when the NATS cluster has three or
// more JetStream servers, else with as many as it has (and says so in the
// log); a later Open raises the replicas once more servers exist. Each
// write returns once the bucket's stream accepted it, i.e. once a quorum of
// its replicas stored it; the embedded servers of cifbridge fsync every
// write before that (JetStream SyncAlways). Servers given with --nats-url
// must set `jetstream { sync_interval: always }` themselves for the same
// guarantee. Reads of one entry go to the stream's leader (direct get is
// off), so an entry written through one node is read back through another.
//
// # Keys
//
//	entry.<id>    one ledger entry: protocol.LedgerEntry plus the sticky
//	              flags everSuspected and everConfirmed behind Totals
//	meta.pruned   what Prune deleted, ever: {"entries","suspected","confirmed"}
//
// # Concurrency
//
// Every change is a compare-and-set on the key's revision: Create is
// kv.Create (it never overwrites), Update re-reads the entry and re-applies
// its function when another writer won (kv.Update with the revision read),
// Prune deletes an entry only at the revision it judged, and the pruned
// counters are updated the same way. Several nodes may therefore write,
// reconcile and prune one bucket at once without losing a change.
//
// A request that fails transiently (no server answers for the stream while
// it elects a leader after a server's loss) is tried again until the
// caller's deadline; a write whose outcome stayed unknown is settled by
// reading the key back: its own value is there, or the write is made anew.
//
// # Bounds
//
// List, Counts, Totals and Prune scan the bucket's entries as a stream (a
// JetStream ordered consumer that blocks on a bounded buffer): List keeps
// at most twice its limit, Prune deletes in batches of at most
// ledger.MaxLimit, so memory stays bounded however large the bucket; time
// grows with it (retention keeps it small). A scan's consumer may sit on a
// replica a few writes behind the leader: a scan that did not reach the
// leader's last sequence as of its start is made again, so it sees every
// write acknowledged before it began. Prune leaves a delete marker per
// pruned entry (some 100 bytes; the scans skip them), which keeps that
// check sound.
//
// Entry points: Open, Config, (*Store) and the ledger.Store methods.
package kvledger
