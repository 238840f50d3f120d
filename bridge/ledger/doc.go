// Package ledger is the durable duplicate ledger (DESIGN §5–§6): one entry per
// logical create whose outcome is uncertain because an attempt timed out. The
// retry engine writes it; operators read and acknowledge it over REST.
//
// Store is the ledger's interface; everything outside this package uses it.
// Handler, Collectors, Reconcile, Retention and Acknowledge are written once
// over a Store. *Ledger is the single-node Store (below); the cluster's is
// kvledger.Store, in JetStream KV.
//
// Entries live in SQLite (modernc.org/sqlite, WAL, synchronous=FULL) in
// <data-dir>/ledger.db. Every write is committed — and fsynced — before the
// call that made it returns, so a widget never sees a ledgerId that a crash
// could lose. The schema is versioned: schema_version holds the number of
// applied migrations, and Open applies the missing ones in order.
//
// Entry points: Store; Open, (*Ledger).Create, Update, Get, List, Close;
// Acknowledge, Reconcile, Retention;
// Counts and Totals (entries per status; entries ever suspected / ever
// confirmed, kept as sticky flags on each row so that they survive a
// restart; a confirmed entry counts as suspected too, so confirmed ≤
// suspected); Handler serves the REST API; Collectors are its
// Prometheus series, read from the table at scrape time.
//
// # Statuses
//
//	suspected        an attempt timed out and its late answer is still awaited
//	confirmed        late answers prove more than one record exists (recordIds lists them all)
//	cleared          every timed-out attempt is resolved and at most one record exists
//	resolved         idempotent create: the primary key made a duplicate impossible
//	expired-unknown  an attempt's outcome will never be known: it never answered within the
//	                 late-record window, or failed in a way that leaves open whether it ran
//	acknowledged     an operator looked at it (POST …/acknowledge)
package ledger
