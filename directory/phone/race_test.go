//go:build race

package phone

// raceEnabled shrinks the differential tests under the race detector,
// which slows the slow path tenfold.
const raceEnabled = true
