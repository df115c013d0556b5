package control

import "time"

// fineTicks is how far back a state keeps every observation (Tick): the
// look interval's detail is for the recent minutes, where recent and the
// late datapoints need it. Beyond, one a minute is kept.
const fineTicks = 5 * time.Minute

// thinTicks returns ticks, oldest first, without the observations older
// than fineTicks before now that follow the one kept before them by less
// than a minute: every observation of the last minutes, then one a
// minute. At one look every 10 s, an hour of ticks is about 85 instead
// of 360, which bounds the size of the stored state.
func thinTicks(ticks []Tick, now time.Time) []Tick {
	fine := now.Add(-fineTicks)
	out := ticks[:0:0]
	for _, t := range ticks {
		if n := len(out); n > 0 && t.At.Before(fine) && t.At.Sub(out[n-1].At) < minute {
			continue
		}
		out = append(out, t)
	}
	return out
}
