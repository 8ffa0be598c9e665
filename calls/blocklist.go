package calls

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/directory/phone"
)

// Blocked is one number on a user's block list.
type Blocked struct {
	// Number is normalized like caller ID: E.164 when it has one, else
	// its digits (an extension, a local-only number).
	Number string    `json:"number"`
	Added  time.Time `json:"added"`
}

type blockList struct {
	Numbers []Blocked `json:"numbers"`
}

// Normalize reads number as caller ID does for user's domain: the key a
// block list holds. It fails with ErrInvalid for what is not a number.
func (s *Service) Normalize(number, user string) (string, error) {
	_, domain, _ := strings.Cut(user, "@")
	region := s.cfg.DomainRegions[strings.ToLower(domain)]
	if region == "" {
		region = s.cfg.DefaultRegion
	}
	ck := region + " " + number
	s.normMu.Lock()
	key, ok := s.normCache[ck]
	s.normMu.Unlock()
	if ok {
		if key == "" {
			return "", fmt.Errorf("number %q: %w", number, ErrInvalid)
		}
		return key, nil
	}
	key, err := s.normalize(region, number)
	if len(number) <= 64 {
		s.normMu.Lock()
		if len(s.normCache) >= normCacheSize {
			clear(s.normCache) // bounded; callers repeat, so it refills with what is hot
		}
		s.normCache[ck] = key
		s.normMu.Unlock()
	}
	return key, err
}

// normCacheSize bounds the parsed-number cache: a parse costs ~100 µs,
// the lookup of a PBX's call setup reads the same few numbers again and
// again.
const normCacheSize = 10000

func (s *Service) normalize(region, number string) (string, error) {
	n, err := s.norm[region].Parse(number)
	if err != nil {
		return "", fmt.Errorf("number %q: %w: %w", number, ErrInvalid, err)
	}
	if n.E164 != "" {
		return n.E164, nil
	}
	if n.Kind == phone.KindExtension || n.Digits != "" {
		return n.Digits, nil
	}
	return "", fmt.Errorf("number %q: %w", number, ErrInvalid)
}

// Block puts number on user's block list and returns its normalized form.
func (s *Service) Block(ctx context.Context, user, number string) (Blocked, error) {
	key, err := s.Normalize(number, user)
	if err != nil {
		return Blocked{}, err
	}
	out := Blocked{Number: key, Added: s.now().UTC()}
	err = updateJSON(ctx, s.store, blockKey(user), 0, func(l *blockList) error {
		if i := slices.IndexFunc(l.Numbers, func(b Blocked) bool { return b.Number == key }); i >= 0 {
			out = l.Numbers[i]
			return errKeep
		}
		if len(l.Numbers) >= s.cfg.MaxBlocked {
			return fmt.Errorf("block %s for %s: %w", key, user, ErrFull)
		}
		l.Numbers = append(l.Numbers, out)
		return nil
	})
	if err != nil {
		return Blocked{}, fmt.Errorf("block list of %s: %w", user, err)
	}
	return out, nil
}

// Unblock takes number off user's block list.
func (s *Service) Unblock(ctx context.Context, user, number string) error {
	key, err := s.Normalize(number, user)
	if err != nil {
		return err
	}
	found := false
	err = updateJSON(ctx, s.store, blockKey(user), 0, func(l *blockList) error {
		n := len(l.Numbers)
		l.Numbers = slices.DeleteFunc(l.Numbers, func(b Blocked) bool { return b.Number == key })
		if found = len(l.Numbers) < n; !found {
			return errKeep
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("block list of %s: %w", user, err)
	}
	if !found {
		return fmt.Errorf("%s on the block list of %s: %w", key, user, ErrNotFound)
	}
	return nil
}

// BlockList returns user's blocked numbers, oldest first.
func (s *Service) BlockList(ctx context.Context, user string) ([]Blocked, error) {
	l, err := getJSON[blockList](ctx, s.store, blockKey(user))
	if errors.Is(err, ErrNotFound) {
		return []Blocked{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("block list of %s: %w", user, err)
	}
	return l.Numbers, nil
}

// IsBlocked reports whether number is on user's block list. A number that
// cannot be read is not blocked; an unreadable store is an error, so the
// caller (a PBX asking during call setup) can fail open.
func (s *Service) IsBlocked(ctx context.Context, user, number string) (bool, error) {
	// Only the numbers are decoded: this is on the PBX's call setup path.
	type numbersOnly struct {
		Numbers []struct {
			Number string `json:"number"`
		} `json:"numbers"`
	}
	l, err := getJSON[numbersOnly](ctx, s.store, blockKey(user))
	if errors.Is(err, ErrNotFound) || (err == nil && len(l.Numbers) == 0) {
		return false, nil // most users block nobody: no parse (~100 µs) for them
	}
	if err != nil {
		return false, fmt.Errorf("block list of %s: %w", user, err)
	}
	key, err := s.Normalize(number, user)
	if err != nil {
		return false, nil
	}
	for _, b := range l.Numbers {
		if b.Number == key {
			return true, nil
		}
	}
	return false, nil
}
