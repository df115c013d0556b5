package control

import (
	"math"
	"time"

	"github.com/maptuner/maptuner/internal/maprun"
)

// world is a Map Run against a downstream that serves capacity children at
// once, for closed-loop tests at fixed instants. The children fill the
// limit while items are pending; each item takes itemTime when nothing
// throttles; the children above capacity are throttled and finish nothing.
// The throttle count of a minute is the highest limit in effect during it
// less the capacity, and its datapoint is published latency after the minute
// ends; an observation carries the datapoints of the last window.
type world struct {
	capacity int32
	latency  time.Duration
	itemTime time.Duration
	window   time.Duration

	settings maprun.Settings
	history  []Setting
	items    maprun.Counts
	done     float64
	at       time.Time

	// provisioned, when set, makes the downstream a provisioned table of
	// that many units a second, each item writing one unit as it ends:
	// observations carry its Usage, published like the throttle counts.
	provisioned float64
	consumed    map[time.Time]float64
}

// newWorld starts a run at t0 with settings and total items, none started.
func newWorld(capacity int32, latency time.Duration, settings maprun.Settings, total int64) *world {
	return &world{
		capacity: capacity, latency: latency, itemTime: 30 * time.Second, window: 15 * time.Minute,
		settings: settings, history: []Setting{{From: t0, MaxConcurrency: settings.MaxConcurrency}},
		items: maprun.Counts{Total: total, Pending: total}, at: t0,
	}
}

// set changes the run's settings at instant at, as UpdateMapRun or an operator would.
func (w *world) set(at time.Time, s maprun.Settings) {
	if s.MaxConcurrency != w.settings.MaxConcurrency {
		w.history = append(w.history, Setting{From: at, MaxConcurrency: s.MaxConcurrency})
	}
	w.settings = s
	w.fill()
}

// fill starts pending children up to the limit, as Step Functions does at
// once when the limit rises.
func (w *world) fill() {
	start := max(0, min(int64(effective(w.settings.MaxConcurrency))-w.items.Running, w.items.Pending))
	w.items.Running += start
	w.items.Pending -= start
}

// observe advances the run to at and returns what the tuner sees then.
func (w *world) observe(at time.Time) Observation {
	if dt := at.Sub(w.at).Seconds(); dt > 0 {
		busy := min(float64(w.items.Running), float64(w.capacity))
		w.done = math.Min(w.done+busy*dt/w.itemTime.Seconds(), float64(w.items.Total))
		fin := int64(w.done) - w.items.Done()
		if w.consumed == nil {
			w.consumed = map[time.Time]float64{}
		}
		w.consumed[w.at.Truncate(minute)] += float64(fin)
		w.items.Succeeded += fin
		w.items.Running -= fin
		w.at = at
	}
	w.fill()
	var ps []Datapoint
	for m := at.Add(-w.window).Truncate(minute); !m.Add(minute + w.latency).After(at); m = m.Add(minute) {
		if m.Before(t0) {
			continue
		}
		ps = append(ps, Datapoint{Minute: m, Value: float64(max(0, limitDuring(w.history, m, m.Add(minute))-w.capacity))})
	}
	obs := Observation{
		At:             at,
		Run:            maprun.Snapshot{Status: maprun.StatusRunning, StartDate: t0, Settings: w.settings, Items: w.items},
		MetricsWatched: true,
		Throttles:      ps,
	}
	if w.provisioned > 0 {
		// Provisioned every five minutes, consumed every minute.
		u := Usage{Name: "table", Provisioned: []Datapoint{{Minute: t0, Value: w.provisioned}}}
		for _, p := range ps {
			if v, ok := w.consumed[p.Minute]; ok {
				u.Consumed = append(u.Consumed, Datapoint{Minute: p.Minute, Value: v})
			}
			if p.Minute.Sub(t0)%(5*minute) == 0 {
				u.Provisioned = append(u.Provisioned, Datapoint{Minute: p.Minute, Value: w.provisioned})
			}
		}
		obs.Usage = []Usage{u}
	}
	return obs
}
