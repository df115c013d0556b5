package policy

import (
	"cmp"
	"errors"
	"fmt"
	"math"

	"github.com/maptuner/maptuner/internal/control"
)

// ValidateConfig checks a controller configuration against the rules a
// policy must meet, for a Config built other than by Resolve (a Resolved
// Config always passes). It returns nil or every problem joined with
// errors.Join; each is a *FieldError, naming the field as a policies file
// does, and wraps ErrInvalid. FailFastRate and FailFastMinItems are checked
// only when FailFast is on.
func ValidateConfig(c control.Config) error {
	s := fromConfig(c)
	var errs []error
	bad := map[string]bool{}
	for _, f := range fields {
		if msg := f.check(&s); msg != "" {
			errs = append(errs, &FieldError{Field: f.name, Problem: msg})
			bad[f.name] = true
		}
	}
	for _, p := range crossCheck(&s, func(string) bool { return false }, func(name string) bool { return !bad[name] }, false) {
		errs = append(errs, &FieldError{Field: p.field, Problem: p.msg})
	}
	return errors.Join(errs...)
}

// check records the problems between the fields of one policy or label
// override lv, given its explicit fields (for a label override, laid over
// its policy's) and the fields that failed to decode at any level. A label
// override is only blamed for problems involving a field it sets.
func (d *decoder) check(at loc, lv *level, explicit *spec, bad map[string]bool, onlyHere bool) {
	full := explicit.resolve()
	usable := func(name string) bool { return !bad[name] }
	for _, p := range crossCheck(&full, lv.spec.has, usable, onlyHere) {
		line := lv.lines[p.field]
		if line == 0 {
			line = lv.line
		}
		d.errs = append(d.errs, &FieldError{
			File: d.file, Line: line, Policy: at.policy, Label: at.label, Field: p.field, Problem: p.msg,
		})
	}
}

// problem is one broken rule between two fields, blamed on field.
type problem struct {
	field, msg string
}

// crossChecker collects the problems between fields of a resolved spec.
type crossChecker struct {
	// here reports whether the level being checked sets a field.
	here func(string) bool
	// usable reports whether a field's value can be trusted: it was not
	// rejected while decoding.
	usable func(string) bool
	// onlyHere keeps only problems involving a field the level sets.
	onlyHere bool
	out      []problem
}

// crossCheck returns the problems between the fields of s, a resolved spec
// with every field set.
func crossCheck(s *spec, here, usable func(string) bool, onlyHere bool) []problem {
	c := &crossChecker{here: here, usable: usable, onlyHere: onlyHere}
	if ordered(c, "minConcurrency", *s.MinConcurrency, "maxConcurrency", *s.MaxConcurrency) {
		ordered(c, "minConcurrency", *s.MinConcurrency, "initialConcurrency", *s.InitialConcurrency)
		ordered(c, "initialConcurrency", *s.InitialConcurrency, "maxConcurrency", *s.MaxConcurrency)
	}
	if c.usable("band") {
		aboveBand(c, "growthFactor", *s.GrowthFactor, *s.Band)
		aboveBand(c, "maxStepUp", *s.MaxStepUp, *s.Band)
	}
	t := &s.Tolerance
	ordered(c, "tolerance.baselinePercent", *t.BaselinePercent, "tolerance.ceilingPercent", *t.CeilingPercent)
	ordered(c, "tolerance.baselineCount", *t.BaselineCount, "tolerance.ceilingCount", *t.CeilingCount)
	return c.out
}

// ordered checks lv <= hv, the values of the fields lo and hi, and reports
// whether they are usable and in order. The problem is blamed on hi when
// only hi is set at the level checked, else on lo.
func ordered[T cmp.Ordered](c *crossChecker, lo string, lv T, hi string, hv T) bool {
	if !c.usable(lo) || !c.usable(hi) {
		return false
	}
	if lv <= hv {
		return true
	}
	if c.onlyHere && !c.here(lo) && !c.here(hi) {
		return false
	}
	if c.here(hi) && !c.here(lo) {
		c.out = append(c.out, problem{field: hi, msg: fmt.Sprintf("%v is below %s %v", hv, lo, lv)})
	} else {
		c.out = append(c.out, problem{field: lo, msg: fmt.Sprintf("%v is above %s %v", lv, hi, hv)})
	}
	return false
}

// aboveBand checks that a growth factor v, the value of field f, is above 1
// + band: a smaller step is never sent, so the limit could never grow. The
// problem is blamed on band when only band is set at the level checked.
func aboveBand(c *crossChecker, f string, v, band float64) {
	if !c.usable(f) || v > 1+band || c.onlyHere && !c.here(f) && !c.here("band") {
		return
	}
	round := func(x float64) string { return showFloat(math.Round(x*1e9) / 1e9) } // 0.2, not 0.19999999999999996
	if c.here("band") && !c.here(f) {
		c.out = append(c.out, problem{field: "band", msg: fmt.Sprintf("%s is not below %s - 1 (%s): no growth step would be sent", showFloat(band), f, round(v-1))})
		return
	}
	c.out = append(c.out, problem{field: f, msg: fmt.Sprintf("%s is not above 1 + band (%s): a step within the band is never sent, so the limit could never grow", showFloat(v), round(1+band))})
}
