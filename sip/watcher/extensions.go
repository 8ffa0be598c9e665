package watcher

import (
	"fmt"
	"strconv"
	"strings"
)

// maxRange bounds one range, so a typo cannot start a million subscriptions.
const maxRange = 10000

// ParseExtensions expands a list like "200-219,301" into the extensions it
// names. Both ends of a range have the same number of digits, and leading
// zeros are kept ("008-010"). Anything else is one extension as written.
func ParseExtensions(s string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			out = append(out, part)
			continue
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a > b || b-a > maxRange || len(lo) != len(hi) {
			return nil, fmt.Errorf("extension range %q: want like 200-299, at most %d", part, maxRange)
		}
		for n := a; n <= b; n++ {
			out = append(out, fmt.Sprintf("%0*d", len(lo), n))
		}
	}
	return out, nil
}
