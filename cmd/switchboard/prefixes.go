package main

// Redis key prefixes: every key a Switchboard deployment writes starts with
// one of these. Packages take their prefix as a parameter; this is the one
// place the layout is chosen. For whoever looks at the server:
//
//	sb:presence:{domain}:{user}             presence record (presence/redisstore.go)
//	sb:presence:due                         expiry schedule
//	sb:watchers:{instance}                  SIP subscriptions served by an instance
//	sb:dir:...                              the directory, API keys included
//	sb:lease:watch:watcher:{aor}:{event}    instance watching an extension at the PBX
//	sb:instance:{instance}                  token of the process running an instance id
//	sb:sipauth:nonce-secret:{period}        digest nonce secret shared by the instances
//	sb:dir:seq, sb:dir:log                  the directory's change log (a stream)
//	sb:cal:feed:{domain}:{user}, sb:cal:due users' calendar feeds (calendar/store_redis.go)
//	sb:lease:cal:{aor}                      instance reading a user's calendar feed
//	sb:calls:...                            call history and block lists (calls/store_redis.go)
const (
	// presencePrefix: presence records, the due set and each instance's
	// SIP subscriptions.
	presencePrefix = "sb:"
	// directoryPrefix: users, contacts and API keys (directory).
	directoryPrefix = "sb:dir:"
	// watchLeasePrefix: which instance watches an extension at the PBX.
	watchLeasePrefix = "sb:lease:watch:"
	// instancePrefix: the claim on each running instance id.
	instancePrefix = "sb:instance:"
	// sipAuthSecretPrefix: the digest nonce secret of each period.
	sipAuthSecretPrefix = "sb:sipauth:nonce-secret:"
	// calendarPrefix: users' calendar feeds and their poll schedule.
	calendarPrefix = "sb:cal:"
	// calendarLeasePrefix: which instance reads a user's calendar feed.
	calendarLeasePrefix = "sb:lease:cal:"
	// callsPrefix: call history, block lists, live call legs (calls).
	callsPrefix = "sb:calls:"
)
