package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchboardhq/switchboard/events"
	"github.com/switchboardhq/switchboard/sip"
)

// newMetrics registers Switchboard's Prometheus metrics, read from the
// components' own counters when scraped.
func newMetrics(edge *sip.Server, bus *events.Bus, storeHist *prometheus.HistogramVec) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), storeHist)

	counter := func(name, help string, labels prometheus.Labels, fn func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "switchboard", Name: name, Help: help, ConstLabels: labels,
		}, fn))
	}
	type pair struct {
		method        string
		total, failed func(sip.Stats) uint64
	}
	for _, p := range []pair{
		{"REGISTER", func(s sip.Stats) uint64 { return s.Registers }, func(s sip.Stats) uint64 { return s.RegistersFailed }},
		{"SUBSCRIBE", func(s sip.Stats) uint64 { return s.Subscribes }, func(s sip.Stats) uint64 { return s.SubscribesFailed }},
		{"PUBLISH", func(s sip.Stats) uint64 { return s.Publishes }, func(s sip.Stats) uint64 { return s.PublishesFailed }},
	} {
		counter("sip_requests_total", "SIP requests answered, by method.", prometheus.Labels{"method": p.method},
			func() float64 { return float64(p.total(edge.Stats())) })
		counter("sip_requests_failed_total", "SIP requests answered with a non-2xx, by method.", prometheus.Labels{"method": p.method},
			func() float64 { return float64(p.failed(edge.Stats())) })
	}
	counter("notifies_sent_total", "NOTIFYs answered with 2xx.", nil, func() float64 { return float64(edge.Stats().NotifiesSent) })
	counter("notifies_failed_total", "NOTIFYs refused or unanswered.", nil, func() float64 { return float64(edge.Stats().NotifiesFailed) })
	counter("sip_conns_refused_total", "SIP TCP/TLS connections closed at accept: source over its cap.", nil, func() float64 { return float64(edge.Stats().ConnsRefused) })
	counter("sip_conns_idle_closed_total", "SIP TCP/TLS connections closed after the idle timeout.", nil, func() float64 { return float64(edge.Stats().ConnsIdleClosed) })
	counter("notify_sender_panics_total", "NOTIFY senders stopped by a recovered panic.", nil, func() float64 { return float64(edge.Stats().SenderPanics) })
	counter("sip_malformed_total", "SIP messages dropped as unparsable.", nil, func() float64 { return float64(edge.Stats().ParseErrors) })
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "switchboard", Name: "subscriptions", Help: "Active SUBSCRIBE dialogs on this instance.",
	}, func() float64 { return float64(edge.Subscriptions()) }))
	counter("events_published_total", "Presence and contact events published.", nil, func() float64 { return float64(bus.Published()) })
	counter("events_publish_failed_total", "Events that could not be published.", nil, func() float64 { return float64(bus.PublishFailed()) })
	counter("events_consumed_total", "Events consumed from other instances.", nil, func() float64 { return float64(bus.Consumed()) })
	counter("events_dropped_malformed_total", "Malformed events dropped.", nil, func() float64 { return float64(bus.DroppedMalformed()) })
	return reg
}

func newStoreHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "switchboard", Name: "store_seconds", Help: "Presence store call latency.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5, 1},
	}, []string{"op"})
}
