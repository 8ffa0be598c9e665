// Package callerid owns caller-ID lookup: which contact an incoming number
// belongs to, as one callee may see it. A Lookup keeps phone indexes
// beside the directory (per domain for company and team contacts, per
// owner for personal ones), built from a snapshot of every contact and
// kept current by the directory's change observer; it caches parsed
// incoming numbers per region and formats the display name from a
// pattern for phone screens.
//
// It reads the directory through Source (*directory.Service) and numbers
// through directory/phone. The HTTP lookup endpoint (api) and the names
// shown on colleagues' lamps (cmd/switchboard's presence adapter) use it.
// It imports only directory, its subpackages and accounts, and no edge
// (layout_test.go at the module root holds that).
package callerid
