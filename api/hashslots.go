package api

import (
	"net/http"
	"time"
)

// hashSlots bounds the password hashes (argon2id, 19 MiB and tens of
// milliseconds each) computed at once, so a burst of sign-ins cannot
// take the memory or every core.
const hashSlots = 4

// hashWait is how long a request waits for a hash slot before 503.
const hashWait = 5 * time.Second

// acquireHashSlot takes a slot for a password hash, or answers 503 with
// Retry-After and returns false. Release it with releaseHashSlot.
func (s *Server) acquireHashSlot(w http.ResponseWriter, r *http.Request) bool {
	t := time.NewTimer(hashWait)
	defer t.Stop()
	select {
	case s.hashes <- struct{}{}:
		return true
	case <-r.Context().Done():
	case <-t.C:
	}
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, "busy", "too many password checks at once; retry", "")
	return false
}

func (s *Server) releaseHashSlot() { <-s.hashes }
