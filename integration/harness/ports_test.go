package harness

import "testing"

// TestFreePortNeverRepeats: ports handed out are not handed out again,
// even while nothing binds them (a server's SIP and HTTP ports are picked
// one after the other before it starts).
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for i := range 3000 {
		p := FreePort(t)
		if i%2 == 1 {
			p = FreeUDPPort(t)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}
