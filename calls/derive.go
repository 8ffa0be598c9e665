package calls

import (
	"github.com/switchboardhq/switchboard/presence"
)

// Step is what happened to one call leg between two views of an
// extension.
type Step string

// Steps, in the order a leg goes through them.
const (
	// StepStart: the leg appeared (ringing, or being set up outgoing).
	StepStart Step = "start"
	// StepAnswer: the leg became confirmed.
	StepAnswer Step = "answer"
	// StepEnd: the leg left the view (terminated, expired or stale).
	StepEnd Step = "end"
)

// Transition is one Step of one dialog of an extension.
type Transition struct {
	Step   Step
	AOR    presence.AOR
	Dialog presence.Dialog
}

// Transitions derives the call-leg steps from one change of an
// extension's view. It is pure. A leg that appears already confirmed
// yields both start and answer; a leg that appears and ends within one
// change is never seen. Changes made by another instance (Origin set,
// no Prev) yield nothing: that instance derives them.
func Transitions(c presence.Change) []Transition {
	if c.Origin != "" {
		return nil
	}
	aor := c.View.AOR
	prev := make(map[string]presence.Dialog, len(c.Prev.Dialogs))
	for _, d := range c.Prev.Dialogs {
		prev[d.Key()] = d
	}
	var out []Transition
	seen := make(map[string]bool, len(c.View.Dialogs))
	for _, d := range c.View.Dialogs {
		k := d.Key()
		seen[k] = true
		p, was := prev[k]
		if !was {
			out = append(out, Transition{Step: StepStart, AOR: aor, Dialog: d})
		}
		if d.State == presence.DialogConfirmed && (!was || p.State != presence.DialogConfirmed) {
			out = append(out, Transition{Step: StepAnswer, AOR: aor, Dialog: d})
		}
	}
	for _, d := range c.Prev.Dialogs {
		if !seen[d.Key()] {
			out = append(out, Transition{Step: StepEnd, AOR: aor, Dialog: d})
		}
	}
	return out
}
