// Command switchboard is the Switchboard binary: configuration (config.go)
// and the wiring of every component, plus the small adapters between them
// (presence to events in bridge.go, caller ID to presence in
// callerdisplay.go) and the keys CLI. It is the only package that imports
// everything.
package main
