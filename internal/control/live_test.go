package control

import (
	"strings"
	"testing"
	"time"
)

// liveStep is one decision of a script at a fixed instant.
type liveStep struct {
	at       time.Time
	limit    int32
	running  int64
	metrics  bool
	live     LiveSample
	reason   Reason
	want     int32 // the limit decided
	liveWord bool  // the message names the live signal
	shared   *Share
	bound    int32
}

func runLive(t *testing.T, steps []liveStep) State {
	t.Helper()
	var st State
	for i, s := range steps {
		obs := Observation{At: s.at, Run: run(s.limit, s.running, 50000), MetricsWatched: s.metrics, Live: s.live, Shared: s.shared, Bound: s.bound}
		if s.metrics {
			obs.Throttles = []Datapoint{{Minute: s.at.Add(-90 * time.Second).Truncate(time.Minute), Value: 0}}
		}
		d := Decide(testConfig(), st, obs)
		if d.Reason != s.reason || d.New.MaxConcurrency != s.want {
			t.Fatalf("step %d: %s %d, want %s %d: %s", i, d.Reason, d.New.MaxConcurrency, s.reason, s.want, d.Message)
		}
		if got := strings.Contains(d.Message, "live signal"); got != s.liveWord {
			t.Fatalf("step %d: message names the live signal: %v, want %v: %s", i, got, s.liveWord, d.Message)
		}
		if d.Signals.LiveSampled != s.live.Sampled || d.Signals.LiveThrottled != s.live.Throttled {
			t.Fatalf("step %d: signals %+v do not carry the live sample %+v", i, d.Signals, s.live)
		}
		st = d.State
	}
	return st
}

func sec(min int, s int) time.Time { return at(min).Add(time.Duration(s) * time.Second) }

func TestLiveSignal(t *testing.T) {
	clean := func(since time.Time) LiveSample { return LiveSample{Since: since, Sampled: 12} }
	throttled := func(since, started time.Time, n int) LiveSample {
		return LiveSample{Since: since, Sampled: 12, Throttled: n, NewestAt: since.Add(20 * time.Second), StartedAt: started}
	}
	// Slow start without metrics, each limit confirmed by a busy minute.
	start := []liveStep{
		{at: sec(0, 30), limit: 80, running: 80, reason: ReasonSlowStart, want: 160},
		{at: sec(1, 30), limit: 160, running: 160, reason: ReasonSlowStart, want: 320},
	}
	cuts := append(start[:2:2],
		// 320 against a capacity of about 200: no metric says so yet.
		liveStep{at: sec(2, 30), limit: 320, running: 320, live: throttled(sec(1, 30), sec(1, 31), 6), reason: ReasonLiveThrottled, want: 224, liveWord: true},
		// Children started under 320 still retry: the cut answered them.
		liveStep{at: sec(3, 30), limit: 224, running: 300, live: throttled(sec(2, 30), sec(2, 0), 5), reason: ReasonLiveThrottled, want: 224, liveWord: true},
		// Children started under 224 are throttled too: cut again, to the clean 160.
		liveStep{at: sec(4, 30), limit: 224, running: 224, live: throttled(sec(3, 30), sec(3, 40), 4), reason: ReasonLiveThrottled, want: 160, liveWord: true},
		// Metrics from now on, none settled yet.
		liveStep{at: sec(5, 30), limit: 160, running: 160, metrics: true, live: clean(sec(4, 30)), reason: ReasonBisect, want: 168},
	)
	t.Run("throttled now cuts at once, then holds while the children of the old limit finish", func(t *testing.T) {
		st := runLive(t, cuts)
		if st.Hi != 224 || st.Lo != 160 || st.Phase != PhaseBracket {
			t.Errorf("state after the cuts: hi %d lo %d phase %s; want the capacity bracketed by 160 and 224", st.Hi, st.Lo, st.Phase)
		}
	})
	t.Run("clean sample confirms a bisection step before the metrics settle", func(t *testing.T) {
		runLive(t, append(cuts[:len(cuts):len(cuts)],
			liveStep{at: sec(6, 30), limit: 168, running: 168, metrics: true, live: LiveSample{Since: sec(5, 30), Sampled: 12, OldestStart: sec(5, 31)}, reason: ReasonBisect, want: 177, liveWord: true}))
	})
	t.Run("near the bound a clean sample confirms only once the children turned over", func(t *testing.T) {
		runLive(t, append(cuts[:len(cuts):len(cuts)],
			liveStep{at: sec(6, 30), limit: 168, running: 168, metrics: true, live: LiveSample{Since: sec(5, 30), Sampled: 12, OldestStart: sec(5, 0)}, reason: ReasonAwaitSignal, want: 168}))
	})
	t.Run("without a sample it waits for the metrics", func(t *testing.T) {
		runLive(t, append(cuts[:len(cuts):len(cuts)],
			liveStep{at: sec(6, 30), limit: 168, running: 168, metrics: true, reason: ReasonAwaitSignal, want: 168}))
	})
	t.Run("too small a sample confirms nothing", func(t *testing.T) {
		runLive(t, append(cuts[:len(cuts):len(cuts)],
			liveStep{at: sec(6, 30), limit: 168, running: 168, metrics: true, live: LiveSample{Since: sec(5, 30), Sampled: 3}, reason: ReasonAwaitSignal, want: 168}))
	})
	t.Run("a clean sample confirms a slow-start step before its metrics do", func(t *testing.T) {
		runLive(t, []liveStep{
			{at: sec(0, 30), limit: 80, running: 80, metrics: true, reason: ReasonSlowStart, want: 160},
			{at: sec(1, 30), limit: 160, running: 160, metrics: true, live: clean(sec(0, 30)), reason: ReasonSlowStart, want: 320, liveWord: true},
		})
	})
	t.Run("without a sample slow start waits for its metrics", func(t *testing.T) {
		runLive(t, []liveStep{
			{at: sec(0, 30), limit: 80, running: 80, metrics: true, reason: ReasonSlowStart, want: 160},
			{at: sec(1, 30), limit: 160, running: 160, metrics: true, reason: ReasonAwaitSignal, want: 160},
		})
	})
	t.Run("one child retrying is no verdict, and without metrics blocks confirmation", func(t *testing.T) {
		runLive(t, []liveStep{start[0],
			{at: sec(1, 30), limit: 160, running: 160, live: throttled(sec(0, 30), sec(0, 40), 1), reason: ReasonAwaitSignal, want: 160},
		})
	})
	t.Run("without metrics the live signal sees the throttling", func(t *testing.T) {
		runLive(t, []liveStep{start[0],
			{at: sec(1, 30), limit: 160, running: 160, live: throttled(sec(0, 30), sec(0, 40), 3), reason: ReasonLiveThrottled, want: 112, liveWord: true},
		})
	})
}
