package bench

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/maptuner/maptuner/internal/lab/sim"
)

// SummaryPlot is the file name of the summary plot in the plot directory;
// each scenario's plot is named after the scenario, with .svg.
const SummaryPlot = "summary.svg"

// Colours of the plots.
const (
	colLimit     = "#1f77b4"
	colPass      = "#2ca02c"
	colRunLine   = "#98df8a"
	colCapacity  = "#7f7f7f"
	colFinished  = "#9467bd"
	colThrottled = "#d62728"
	colAxis      = "#444444"
	colGrid      = "#e5e5e5"
)

// svgDoc builds an SVG document by hand: a few shapes, text, no styling
// beyond attributes.
type svgDoc struct{ b strings.Builder }

func newSVG(width, height int) *svgDoc {
	s := &svgDoc{}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&s.b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	return s
}

func (s *svgDoc) bytes() []byte {
	s.b.WriteString("</svg>\n")
	return []byte(s.b.String())
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// text writes text at (x, y); anchor is start, middle or end.
func (s *svgDoc) text(x, y float64, anchor, attrs, str string) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="%s"%s>%s</text>`+"\n", num(x), num(y), anchor, attrs, html.EscapeString(str))
}

func (s *svgDoc) line(x1, y1, x2, y2 float64, stroke string, width float64, dash string) {
	fmt.Fprintf(&s.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"%s/>`+"\n", num(x1), num(y1), num(x2), num(y2), stroke, num(width), dashAttr(dash))
}

func (s *svgDoc) polyline(pts [][2]float64, stroke string, width float64, dash string) {
	if len(pts) == 0 {
		return
	}
	s.b.WriteString(`<polyline fill="none" stroke="` + stroke + `" stroke-width="` + num(width) + `"` + dashAttr(dash) + ` points="`)
	for i, p := range pts {
		if i > 0 {
			s.b.WriteByte(' ')
		}
		s.b.WriteString(num(p[0]) + "," + num(p[1]))
	}
	s.b.WriteString("\"/>\n")
}

func (s *svgDoc) rect(x, y, w, h float64, fill, stroke string) {
	fmt.Fprintf(&s.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="%s"/>`+"\n", num(x), num(y), num(w), num(h), fill, stroke)
}

func (s *svgDoc) circle(x, y, r float64, fill, stroke string) {
	fmt.Fprintf(&s.b, `<circle cx="%s" cy="%s" r="%s" fill="%s" stroke="%s" stroke-width="1.5"/>`+"\n", num(x), num(y), num(r), fill, stroke)
}

func dashAttr(dash string) string {
	if dash == "" {
		return ""
	}
	return ` stroke-dasharray="` + dash + `"`
}

// niceMax returns a round axis end at or above v and its tick step: the
// step is 1, 2, 2.5 or 5 times a power of ten, about a fifth of v, and the
// end a whole number of steps.
func niceMax(v float64) (top, tick float64) {
	if !(v > 0) {
		return 1, 0.2
	}
	raw := v / 5
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if tick = m * p; tick >= raw {
			break
		}
	}
	return math.Ceil(v/tick-1e-9) * tick, tick
}

// label writes an axis value without the noise of binary fractions.
func label(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// panel is a plotting area with linear axes.
type panel struct {
	x, y, w, h       float64
	xmax, ymax, tick float64
}

func (p panel) px(v float64) float64 { return p.x + p.w*v/p.xmax }
func (p panel) py(v float64) float64 { return p.y + p.h - p.h*math.Min(math.Max(v, 0), p.ymax)/p.ymax }

// axes draws the frame, the horizontal grid with its labels and minute
// ticks on the x axis.
func (p panel) axes(s *svgDoc, title, ylabel string) {
	for i := 0; float64(i)*p.tick <= p.ymax+p.tick/2; i++ {
		v := float64(i) * p.tick
		y := p.py(v)
		s.line(p.x, y, p.x+p.w, y, colGrid, 1, "")
		s.text(p.x-4, y+4, "end", ` fill="`+colAxis+`"`, label(v))
	}
	_, xt := niceMax(p.xmax)
	for i := 0; float64(i)*xt <= p.xmax+xt/2; i++ {
		v := float64(i) * xt
		x := p.px(v)
		s.line(x, p.y+p.h, x, p.y+p.h+4, colAxis, 1, "")
		s.text(x, p.y+p.h+16, "middle", ` fill="`+colAxis+`"`, label(v))
	}
	s.rect(p.x, p.y, p.w, p.h, "none", colAxis)
	s.text(p.x, p.y-6, "start", ` font-weight="bold"`, title)
	s.text(p.x+p.w, p.y-6, "end", ` fill="`+colAxis+`"`, ylabel)
}

// steps draws per-minute values as a step line: value v of minute m spans
// [m, m+1).
func (p panel) steps(s *svgDoc, mins []int, vals []float64, colour string, width float64, dash string) {
	var pts [][2]float64
	for i, m := range mins {
		y := p.py(vals[i])
		pts = append(pts, [2]float64{p.px(float64(m)), y}, [2]float64{p.px(float64(m + 1)), y})
	}
	p.splitPolyline(s, pts, mins, colour, width, dash)
}

// splitPolyline draws pts as one polyline per run of consecutive minutes,
// so that a gap in the minutes is not bridged.
func (p panel) splitPolyline(s *svgDoc, pts [][2]float64, mins []int, colour string, width float64, dash string) {
	from := 0
	for i := 1; i <= len(mins); i++ {
		if i == len(mins) || mins[i] != mins[i-1]+1 {
			s.polyline(pts[2*from:2*i], colour, width, dash)
			from = i
		}
	}
}

// minuteSeries sums the points of a result's Map Runs per minute.
type minuteSeries struct {
	mins                                       []int
	limit, running, capacity, finished, thrott []float64
}

// seriesOf sums a result's Map Runs per minute. The capacity is each
// downstream's: a run's Point.Capacity is its share, the downstream's
// capacity divided among the runs calling it that are running at the
// minute's end, so it is the largest share of the minute times that count.
func seriesOf(res *sim.Result) minuteSeries {
	byMin := map[int]int{}
	var ms minuteSeries
	first, last := math.MaxInt, math.MinInt
	for _, r := range res.Runs {
		for _, p := range r.Series {
			first, last = min(first, p.Minute), max(last, p.Minute)
		}
	}
	for m := first; m <= last; m++ {
		byMin[m] = len(ms.mins)
		ms.mins = append(ms.mins, m)
	}
	n := len(ms.mins)
	ms.limit, ms.running, ms.capacity = make([]float64, n), make([]float64, n), make([]float64, n)
	ms.finished, ms.thrott = make([]float64, n), make([]float64, n)
	share := map[string][]float64{}
	var downstreams []string
	for _, r := range res.Runs {
		if share[r.Downstream] == nil {
			share[r.Downstream] = make([]float64, n)
			downstreams = append(downstreams, r.Downstream)
		}
		for _, p := range r.Series {
			i := byMin[p.Minute]
			ms.limit[i] += limitOf(p)
			ms.running[i] += p.Running
			ms.finished[i] += float64(p.Succeeded + p.Failed)
			ms.thrott[i] += float64(p.Throttles)
			share[r.Downstream][i] = math.Max(share[r.Downstream][i], p.Capacity)
		}
	}
	for i, m := range ms.mins {
		end := time.Duration(m+1) * time.Minute
		for _, ds := range downstreams {
			running := 0
			for _, r := range res.Runs {
				if r.Downstream == ds && r.Status != "" && r.Started <= end && (r.Status == string(types.MapRunStatusRunning) || end < r.Started+r.Makespan) {
					running++
				}
			}
			ms.capacity[i] += share[ds][i] * float64(max(running, 1))
		}
	}
	return ms
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

// scenarioPlot draws a scenario's tuner run beside its oracle run on the
// plot seed.
func scenarioPlot(sr ScenarioReport) []byte {
	best := int32(0)
	for _, o := range sr.Oracle {
		if o.Seed == sr.PlotSeed {
			best = o.Best
		}
	}
	oracle := fmt.Sprintf("oracle: static %d", best)
	if sr.plotOracle != nil && len(sr.plotOracle.Runs) > 1 {
		oracle += " per run"
	}
	return ComparisonPlot(fmt.Sprintf("%s, seed %d: the tuner (left) beside the oracle's best static setting (right)", sr.Name, sr.PlotSeed),
		PlotColumn{Title: "tuner", Result: sr.plotTuner}, PlotColumn{Title: oracle, Result: sr.plotOracle})
}

// PlotColumn is one run of a scenario drawn by ComparisonPlot.
type PlotColumn struct {
	// Title heads the column's panels, for example "tuner".
	Title string
	// Result is the run's figures; nil draws the column as "not run".
	Result *sim.Result
}

// ComparisonPlot draws runs of one scenario side by side as an SVG
// document headed by title, one column per run, left to right: the
// maxConcurrency set, the running children and the true capacity above,
// the items finished and the throttled calls per minute below, every
// column on the same scales, minutes from the start on the x axes.
func ComparisonPlot(title string, cols ...PlotColumn) []byte {
	const colW, height = 470, 580
	width := 60 + colW*max(len(cols), 1)
	s := newSVG(width, height)
	s.text(float64(width)/2, 22, "middle", ` font-size="15" font-weight="bold"`, title)

	series := make([]minuteSeries, len(cols))
	xmax, conc, capMax, flow := 1.0, 0.0, 0.0, 0.0
	for i, c := range cols {
		if c.Result == nil {
			continue
		}
		ms := seriesOf(c.Result)
		series[i] = ms
		if len(ms.mins) > 0 {
			xmax = math.Max(xmax, float64(ms.mins[len(ms.mins)-1]+1))
		}
		capMax = math.Max(capMax, math.Max(maxOf(ms.capacity), maxOf(ms.running)))
		conc = math.Max(conc, maxOf(ms.limit))
		flow = math.Max(flow, math.Max(maxOf(ms.finished), maxOf(ms.thrott)))
	}
	// A limit far above the capacity (unlimited is 10,000) is clipped at
	// the top rather than flattening everything else.
	conc = math.Max(math.Min(conc, 2*capMax), capMax)
	cTop, cTick := niceMax(conc * 1.05)
	fTop, fTick := niceMax(flow * 1.05)
	xmax, _ = niceMax(xmax)

	for i, c := range cols {
		x := 70 + float64(i)*colW
		top := panel{x: x, y: 60, w: 410, h: 200, xmax: xmax, ymax: cTop, tick: cTick}
		bottom := panel{x: x, y: 320, w: 410, h: 160, xmax: xmax, ymax: fTop, tick: fTick}
		top.axes(s, c.Title+": concurrency", "children")
		bottom.axes(s, c.Title+": work and throttling", "per minute")
		s.text(x+205, 514, "middle", ` fill="`+colAxis+`"`, "minutes from the start")
		if c.Result == nil {
			s.text(x+205, 160, "middle", "", "not run")
			continue
		}
		ms := series[i]
		top.steps(s, ms.mins, ms.capacity, colCapacity, 2, "6 4")
		top.steps(s, ms.mins, ms.running, colRunLine, 4, "")
		top.steps(s, ms.mins, ms.limit, colLimit, 1.8, "")
		bottom.steps(s, ms.mins, ms.finished, colFinished, 1.5, "")
		bottom.steps(s, ms.mins, ms.thrott, colThrottled, 1.5, "")
	}
	legend := []struct{ colour, dash, label string }{
		{colLimit, "", "maxConcurrency set"},
		{colRunLine, "", "running children (mean)"},
		{colCapacity, "6 4", "true capacity"},
		{colFinished, "", "items finished"},
		{colThrottled, "", "throttled calls"},
	}
	x := 70.0
	for _, l := range legend {
		s.line(x, 555, x+28, 555, l.colour, 3, l.dash)
		s.text(x+34, 559, "start", "", l.label)
		x += 34 + 7.2*float64(len(l.label)) + 28
	}
	return s.bytes()
}

// summaryColours are the colours of the strategies in the summary plot.
var summaryColours = map[string]string{
	StrategyTuner:     "#000000",
	StrategyAIMD:      "#1f77b4",
	StrategyCUBIC:     "#ff7f0e",
	StrategyUnlimited: "#d62728",
	StrategyFollow:    "#2ca02c",
}

// The summary plot's makespan axis ends at summaryRatioMax; a ratio past
// it, or a seed set that did not complete (∞), is drawn hollow in a gutter
// right of the axis.
const summaryRatioMax = 3.0

// summaryPlot draws, per scenario, every strategy's median makespan over
// the oracle's and median throttled calls, the tuner in black and larger,
// with each row's targets in red and how many targets the tuner met.
func summaryPlot(rep Report) []byte {
	const rowH, top, labelW, width = 28.0, 96.0, 190.0, 1040
	height := top + rowH*float64(len(rep.Scenarios)) + 50
	s := newSVG(width, int(height))
	s.text(width/2, 22, "middle", ` font-size="15" font-weight="bold"`,
		fmt.Sprintf("Median over seeds %s: makespan over the oracle's, and throttled calls", seedRange(rep.Seeds)))

	var strategies []string
	for _, name := range rep.Strategies {
		if name != StrategyOracle {
			strategies = append(strategies, name)
		}
	}
	// The tuner is drawn last, on top.
	if i := slices.Index(strategies, StrategyTuner); i >= 0 {
		strategies = append(slices.Delete(strategies, i, i+1), StrategyTuner)
	}
	x := labelW
	for _, name := range strategies {
		r, fill := 4.0, colourOf(name)
		if name == StrategyTuner {
			r = 6
		}
		s.circle(x, 44, r, fill, fill)
		s.text(x+10, 48, "start", "", name)
		x += 30 + 7.2*float64(len(name))
	}
	s.line(x, 44, x+16, 44, colThrottled, 1.5, "4 3")
	s.text(x+22, 48, "start", "", "the tuner's target")

	bottom := top + rowH*float64(len(rep.Scenarios))
	left := panel{x: labelW + 10, y: top, w: 360, h: bottom - top, xmax: summaryRatioMax}
	gutter := left.x + left.w + 22
	right := panel{x: labelW + 450, y: top, w: 250, h: bottom - top}
	// The throttle axis is a square root of percent, so that 0 to 5 %
	// is readable beside 100 %.
	tx := func(pct float64) float64 { return right.x + right.w*math.Sqrt(math.Min(math.Max(pct, 0), 100))/10 }

	for i := range rep.Scenarios {
		if i%2 == 1 {
			s.rect(0, top+rowH*float64(i), width, rowH, "#f6f6f6", "none")
		}
	}
	s.text(left.x+left.w/2, top-14, "middle", ` font-weight="bold"`, "makespan / oracle's")
	s.text(gutter, top-14, "middle", ` font-weight="bold"`, "∞")
	s.text(right.x+right.w/2, top-14, "middle", ` font-weight="bold"`, "throttled calls, % (square-root scale)")
	s.text(right.x+right.w+20, top-14, "start", ` font-weight="bold"`, "tuner targets")
	for _, v := range []float64{0, 0.5, 1, 1.5, 2, 2.5, 3} {
		s.line(left.px(v), top, left.px(v), bottom, colGrid, 1, "")
		s.text(left.px(v), bottom+16, "middle", ` fill="`+colAxis+`"`, label(v))
	}
	s.line(left.px(1), top, left.px(1), bottom, colAxis, 1, "")
	s.text(gutter, bottom+16, "middle", ` fill="`+colAxis+`"`, "> 3")
	s.text(gutter, bottom+30, "middle", ` fill="`+colAxis+`"`, "or failed")
	for _, v := range []float64{0, 2, 5, 10, 25, 50, 100} {
		s.line(tx(v), top, tx(v), bottom, colGrid, 1, "")
		s.text(tx(v), bottom+16, "middle", ` fill="`+colAxis+`"`, label(v))
	}

	for i, sr := range rep.Scenarios {
		y := top + rowH*float64(i) + rowH/2
		s.text(labelW-4, y+4, "end", "", sr.Name)
		// The makespan axis is over the oracle's: a bound over another
		// reference is not drawn.
		if b := sr.Bound; sr.Targets != nil {
			if b.Makespan > 0 && b.Reference == RefOracle {
				s.line(left.px(b.Makespan), y-rowH/2+2, left.px(b.Makespan), y+rowH/2-2, colThrottled, 1.5, "4 3")
			}
			if b.Throttled > 0 {
				s.line(tx(b.Throttled), y-rowH/2+2, tx(b.Throttled), y+rowH/2-2, colThrottled, 1.5, "4 3")
			}
		}
		for j, name := range strategies {
			st := sr.strategy(name)
			if st == nil {
				continue
			}
			// Each strategy has its own lane in the row, so that equal
			// figures do not hide each other.
			dy := (float64(j) - float64(len(strategies)-1)/2) * 3.5
			r, colour := 4.0, colourOf(name)
			if name == StrategyTuner {
				r, dy = 6, 0
			}
			switch ratio := float64(st.Summary.MakespanRatio.Median); {
			case ratio <= summaryRatioMax:
				s.circle(left.px(ratio), y+dy, r, colour, colour)
			case !math.IsNaN(ratio):
				s.circle(gutter, y+dy, r, "#ffffff", colour)
			}
			if pct := float64(st.Summary.ThrottledPercent.Median); !math.IsNaN(pct) {
				s.circle(tx(pct), y+dy, r, colour, colour)
			}
		}
		if len(sr.Targets) > 0 {
			pass, judged := passed(sr.Targets)
			colour := colPass
			if pass < judged {
				colour = colThrottled
			}
			s.text(right.x+right.w+20, y+4, "start", ` fill="`+colour+`" font-weight="bold"`, fmt.Sprintf("%d of %d met", pass, judged))
		}
	}
	s.rect(left.x, top, left.w, bottom-top, "none", colAxis)
	s.rect(right.x, top, right.w, bottom-top, "none", colAxis)
	return s.bytes()
}

func colourOf(strategy string) string {
	if c, ok := summaryColours[strategy]; ok {
		return c
	}
	return colCapacity
}
