// Package directory owns the contacts directory of Switchboard: personal,
// company and team contacts, the PBX users that team contacts derive from,
// per-user marks and groups (VIP, Favorite, Blocked, own and shared groups),
// a search index with caller-ID friendly number matching, and the CSV and
// vCard bulk paths.
//
// Service is the only entry point for callers. It enforces every permission
// rule itself from the Principal passed with each call, so edges such as the
// HTTP API only translate errors (ErrNotFound, ErrForbidden, ErrConflict,
// ErrVersionMismatch, ErrConfirmationRequired, FieldError) to status codes.
//
// Persistence goes through the Store interface. BoltStore (embedded, the
// default), RedisStore and MemStore (tests and benchmarks) implement it; the
// store is the source of truth and the Service rebuilds its in-memory index
// from it in New.
//
// The package imports no other Switchboard package.
package directory
