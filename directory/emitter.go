package directory

import (
	"sync"
)

// emitter delivers change events to the observer (the caller-ID index,
// the contact event publisher) on a goroutine of its own, in the order
// they were queued: emit queues under amu, so that is log order. An
// import's next batch is then written and indexed while the observer
// takes this one, instead of after it.
//
// Every queued emission carries a channel closed once it is delivered.
// Whoever queued it waits on it before returning (a single write at once,
// an import before its next batch and at its end, the follower before
// fetching more), so a caller still sees its write in caller ID when it
// returns, the queue holds at most a batch or two, and the goroutine,
// started when the queue fills and ended when it drains, never outlives
// the callers that fed it.
type emitter struct {
	mu      sync.Mutex // guards the fields below
	queue   []emission
	running bool
}

type emission struct {
	fn     func(ChangeEvent)
	events []ChangeEvent
	done   chan struct{}
}

// delivered is the done channel of an emission with nothing to deliver.
var delivered = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// push queues events for fn and returns the channel closed once they are
// delivered.
func (e *emitter) push(fn func(ChangeEvent), events []ChangeEvent) chan struct{} {
	if fn == nil || len(events) == 0 {
		return delivered
	}
	done := make(chan struct{})
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queue = append(e.queue, emission{fn: fn, events: events, done: done})
	if !e.running {
		e.running = true
		go e.drain()
	}
	return done
}

func (e *emitter) drain() {
	for {
		e.mu.Lock()
		if len(e.queue) == 0 {
			e.running = false
			e.queue = nil
			e.mu.Unlock()
			return
		}
		m := e.queue[0]
		e.queue[0] = emission{}
		e.queue = e.queue[1:]
		e.mu.Unlock()
		// An import batch's events keep the observers busy for tens of
		// milliseconds: let requests waiting for a processor (a
		// caller-ID lookup) run in between.
		var y yielder
		for _, ev := range m.events {
			y.maybe()
			m.fn(ev)
		}
		close(m.done)
	}
}
