package watch

import (
	"context"
	"fmt"
	"time"

	"github.com/maptuner/maptuner/internal/budget"
	"github.com/maptuner/maptuner/internal/observe"
)

// APITags reads the opt-in tag with ListTagsForResource. Each invocation
// of the watch function gets its own share of the quota, like a tick.
type APITags struct {
	SFN observe.SFNAPI
	// Region, Period and Fraction size the budget; see budget.Config.
	Region   string
	Period   time.Duration
	Fraction float64
}

var _ TagReader = (*APITags)(nil)

// PolicyTag implements TagReader.
func (a *APITags) PolicyTag(ctx context.Context, stateMachineARN string) (string, bool, error) {
	b, err := budget.New(budget.Config{Region: a.Region, Period: a.Period, Fraction: a.Fraction})
	if err != nil {
		return "", false, fmt.Errorf("watch: tags budget: %w", err)
	}
	o := observe.Observer{SFN: a.SFN, Budget: b}
	return o.PolicyTag(ctx, stateMachineARN)
}
