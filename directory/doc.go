// Package directory owns the contacts directory of Switchboard: personal,
// company and team contacts, the PBX users that team contacts derive from
// (stored and followed here; their type, SIP credentials and API keys are
// in accounts), per-user marks and groups (VIP, Favorite, Blocked, own and
// shared groups), a search index with caller-ID friendly number matching,
// the CSV and vCard bulk paths, and the store with its change log.
//
// Service is the only entry point for callers. It enforces every permission
// rule itself from the accounts.Principal passed with each call (which
// contacts a principal may see is decided here, access.go), so edges such
// as the HTTP API only translate errors (ErrNotFound, ErrForbidden,
// ErrConflict, ErrVersionMismatch, ErrConfirmationRequired, FieldError) to
// status codes. Caller-ID lookup (callerid) is built on the Service's
// snapshot, change observer and marks (observe.go).
//
// Persistence goes through the Store interface. BoltStore (embedded, the
// default), RedisStore and MemStore (tests and benchmarks) implement it.
//
// # One directory across instances
//
// The store is the authority; each Service's in-memory state (search index,
// users with their HA1 credentials, marks, groups, and the caller-ID index
// that follows its change events) is a cache of it. Every Store.Apply
// appends its batch to a change log in the same atomic step as the data,
// numbered by a store-wide sequence without holes, and every Service applies
// every change from that log in order: the writing instance right after its
// Apply (so callers read their own writes), the others from Run. Local and
// remote changes take the same path, and a change is never visible on one
// instance without being in the log for the others.
//
// The feed is a Redis Stream written inside the same MULTI/EXEC as the data
// (a Lua script INCRs the sequence and XADDs the batch), rather than NATS:
//   - publishing after the write leaves a gap where a crash between the two
//     loses the change for every other instance; appending atomically with
//     the data has no such window;
//   - the reader of a stream resumes from its last position after any
//     outage, and a hole in the sequence (the stream trimmed past a long
//     partition, a reset Redis) is detected and answered by a full reload
//     whose differences are reported as change events; core NATS would
//     drop messages silently, and JetStream would add a second system whose
//     state must agree with Redis;
//   - XREAD BLOCK wakes followers as soon as another instance appends, so
//     changes reach every instance in well under a second, and the
//     directory keeps working while NATS is down.
//
// With the embedded bolt store only one process can open the file, so its
// log is kept in memory by the store and needs no server.
//
// Readers never wait on store I/O: writers of one instance serialise among
// themselves (wmu) while they validate and write, and the in-memory state
// is locked for writing only while one logged change is applied. Imports
// write in batches of importBatch rows.
//
// # Size: one instance, and beyond
//
// Every instance holds the whole directory in memory (index.go): each
// contact once, encoded in bytes with its display-order key and its match
// text in large append-only slabs (arena.go: no heap object nor pointer
// per contact for the collector to visit), in a partition of its SIP
// domain that holds that domain's
// word postings (varint-delta doc IDs), digit trigrams and display order.
// A search reads only the partitions of the caller's tenant and, within
// one, the posting lists of the query's most selective word or digit
// run; it keeps the first page in display order (favorites, VIPs, then
// by name) as a top-k and counts matches only up to TotalCap, so a one-
// letter prefix costs about one integer comparison per candidate and a
// small tenant's search costs what that tenant holds, whatever the
// store's size. No write holds the lock for more than one block of a
// sorted list (blist.go); retired versions are purged by a rebuild once
// they outnumber live contacts twice or their bytes outweigh the live
// ones (amortised, but one O(n) hold).
//
// Measured with BenchmarkHeapPerContact (Go heap after GC, store
// excluded, every contact with two numbers and a distinct email): the
// directory holds about 490 bytes and 3 heap objects per contact at
// 1,000,000 contacts (the objects left are the terms of distinct tokens
// such as emails), the caller-ID lookup (callerid) about 230 more with
// no object per contact; the maps from IDs, duplicate keys and numbers
// are keymap.Maps (12–16 bytes an entry and a Bloom filter of about 2,
// no pointers). With integration/million.sh (1,000,000 company contacts
// imported over HTTP as four 250,000-row CSV files) the process settles
// at about 0.88–0.93 KB of RSS per contact once --memory-trim has
// returned freed memory (bolt or Redis store), and stands near 1.7 KB
// right after the import: the Go runtime's RSS runs up to twice the
// live heap between collections with GOGC=100. GOMEMLIMIT set below the
// container's memory trades collection CPU for staying nearer the live
// heap. The bolt file adds its mapped pages.
//
// Imports run as a pipeline: the request's goroutine parses and checks
// rows and finds their duplicates (its own rows kept encoded, not as
// heap objects: a collection during an import used to follow millions
// of pointers; stored ones looked up 64 rows per hold of the read lock,
// since the indexing takes the write lock every 16 contacts); a writer
// prepares each 2,000-row batch's index entries and stores it (one bolt
// transaction, one Redis pipeline) while the batch before is indexed;
// the observers (caller ID, events) take a batch's events while the next
// one is indexed (emitter.go); and the follower leaves this instance's
// own batches to their writer (on Redis without decoding them: the log
// entry names its origin). Each stage yields its processor every
// millisecond (yield.go) so that searches and lookups run meanwhile;
// nothing an import does holds the readers' lock for more than 16
// contacts' updates (the keymaps build their merges outside it, and the
// per-doc arrays are paged, never copied). On two cores, with the same
// script's readers searching and looking up every 10 ms, 250,000-row
// files import at 85,000–104,000 rows/s, the fourth at 0.87–1.01 times
// the first's rate (bolt 0.87–0.91, Redis 0.94–1.01; without the readers
// 0.97), at 15–21 µs of CPU per row (plus the Redis server's): what
// still grows with the store is the display order's blocks, the caller-ID
// keymaps' overlays and the readers' own searches, each under 1 µs a row.
// On a VM that hands freed memory back to its host, the first chunk to
// grow past recently freed memory pays 3–5 µs a row more in page zeroing
// and page-cache copies (the host backs each new page on first touch):
// the script pre-touches memory so every chunk starts alike. Searches
// during an import see p99 of 17–45 ms and lookups 15–40 ms, the CPU
// being shared (Go polls the network from a busy process only every
// 10 ms); at rest they are 1–7 ms and under 0.5 ms.
//
// So one instance serves about a million contacts in 0.9–1.7 GB of RSS. A
// deployment beyond one instance's memory is split by SIP domain, never
// within one: the index, caller ID and the change feed are already per
// domain, and every request names its domain (the API key's tenant, the
// callee's domain of a lookup, the SIP domain of a SUBSCRIBE). Run groups
// of instances that each serve a subset of domains (Config.Domains),
// with one store (a Redis key prefix or bolt file) per group, and route
// by domain: the PBX (or Kamailio's dispatcher) already picks its
// Switchboard by domain, and the HTTP front routes /v1 by the key's
// tenant. The numbers that decide it, per group: contacts × about 0.75
// KB of heap × 2 for the collector, plus presence and calls, must fit the
// instance's memory (8 GB serves about 5 million contacts); an import
// costs its own rows and its domain's duplicate keys. A single tenant
// larger than one instance (several million contacts) needs another
// engine for that tenant's search, a search server with a per-tenant
// index, with caller ID staying here (it needs only the numbers).
//
// Of Switchboard's packages it imports only accounts (and may use its own
// subpackages); layout_test.go at the module root holds that.
package directory
