package sip

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/switchboardhq/switchboard/presence"
)

// ReadAllowList reads a presence policy file (--presence-policy) into an
// [AllowList]. One rule a line:
//
//	# the reception watches the managing director, nobody else does
//	group reception: 300@pbx.example.com, 301@pbx.example.com
//	200@pbx.example.com: group:reception, 201@pbx.example.com
//
// An extension without a rule is visible to every watcher of its domain;
// one with a rule only to the watchers it lists ("user@domain",
// "*@domain" or "group:name").
func ReadAllowList(r io.Reader) (*AllowList, error) {
	l := NewAllowList()
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		head, rest, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("policy line %d: want \"target: watchers\" or \"group name: members\"", n)
		}
		items := splitItems(rest)
		if name, isGroup := strings.CutPrefix(strings.TrimSpace(head), "group "); isGroup {
			var members []presence.AOR
			for _, it := range items {
				a, err := presence.ParseAOR(it)
				if err != nil {
					return nil, fmt.Errorf("policy line %d: group member %q: %w", n, it, err)
				}
				members = append(members, a)
			}
			l.SetGroup(strings.TrimSpace(name), members...)
			continue
		}
		target, err := presence.ParseAOR(strings.TrimSpace(head))
		if err != nil {
			return nil, fmt.Errorf("policy line %d: target: %w", n, err)
		}
		for _, it := range items {
			if _, err := presence.ParseAOR(it); err != nil && !strings.HasPrefix(it, "group:") {
				return nil, fmt.Errorf("policy line %d: watcher %q: want user@domain, *@domain or group:name", n, it)
			}
		}
		l.Allow(target, items...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	return l, nil
}

// splitItems splits a comma-separated list, dropping empty items.
func splitItems(s string) []string {
	var out []string
	for _, it := range strings.Split(s, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}
