// Package accounts owns who may act in Switchboard: PBX users and their SIP
// digest credentials (HA1), API keys (minting, kinds, resolution with a
// short cache, bootstrap) with their in-memory, bbolt and Redis key
// stores, and the Principal with its scopes and tenant that every key acts
// as.
//
// It holds types and pure rules only. The directory keeps users in its
// store and change log (they are part of its batches), derives a team
// contact from each, answers HA1 look-ups for SIP authentication, and
// decides from a Principal which contacts it may see. The key stores
// share the directory's bbolt file or Redis prefix under keys of their own.
//
// The package imports no other Switchboard package (layout_test.go at the
// module root holds that).
package accounts
