// Package calls keeps each user's recent calls and block list.
//
// History is derived from the dialog events Switchboard already receives
// (PUBLISH from the PBX, or NOTIFYs of its own subscriptions to the PBX),
// both of which end in presence-core changes:
//
//   - Reported takes every dialog report as the PBX sent it, before the
//     presence core names or hides the other party for colleagues, so the
//     user's own history keeps the number and why a leg ended (RFC 4235
//     state event and code);
//   - Changed, a presence watcher, derives each leg's steps (start,
//     answer, end) from the extension's view before and after a change
//     this instance made (Transitions), so expiry and stale ringing end a
//     leg as they clear the lamp.
//
// Both only queue work; a worker per shard of extensions folds it into
// documents in the Store, each a read-modify-write of one key: a leg's
// facts, then, when it ends, one record in the user's book. Records are
// named by extension, dialog and start, and the book refuses an ID it
// holds, so instances that see the same call write it once. Each
// instance's worker takes its own steps, so an answer seen on one may be
// taken up after another ended the leg: it still turns the record
// answered (the end reads the leg again after writing the record, the
// late answer patches the record after writing the leg). A call-id
// document correlates the legs of one call across a domain's extensions:
// the one answered turns the others' missed legs into "answered
// elsewhere", whichever side is recorded first.
//
// Names are resolved once per record for its owner (personal contacts
// first, through Namer); the presence view's party — what colleagues may
// see — is the fallback and the only party an Event exposes as Shared.
//
// Stores: MemStore (tests), BoltStore (embedded default) and RedisStore
// (shared). The package imports presence and directory/phone, no edge.
package calls
