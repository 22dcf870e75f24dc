package analysis

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// MaxExcludedShare is the share of an experiment's targets the analysis
// may leave out for want of data (rounded down): over a fleet some
// collectors always miss a minute, and one of them should not void the
// figures of thousands, while a small experiment's figures rest on every
// target.
const MaxExcludedShare = 0.05

// maxListed bounds the excluded agents named in results, errors and
// warnings: a fleet's worth would drown what they say.
const maxListed = 10

// exclusions are the targets left out, with the first reasons.
type exclusions struct {
	n      int
	agents []apitypes.ExcludedAgent
	errs   []error
}

func (e *exclusions) add(uid string, err error) {
	e.n++
	if len(e.errs) < maxListed {
		e.errs = append(e.errs, err)
		e.agents = append(e.agents, apitypes.ExcludedAgent{InstanceUID: uid, Reason: err.Error()})
	}
}

// allowed is how many of targets may be left out.
func allowed(targets int) int { return int(math.Floor(float64(targets) * MaxExcludedShare)) }

// check fails the analysis when too many targets were left out, or split
// mode lost every agent of a variant; the error wraps ErrInsufficientData
// and names the first of them.
func (e *exclusions) check(mode apitypes.Mode, targets int, byVariant map[string][]apitypes.Figures) error {
	if e.n > allowed(targets) {
		errs := e.errs
		if e.n > len(e.errs) {
			errs = append(errs, fmt.Errorf("%w: and %d more agents", ErrInsufficientData, e.n-len(e.errs)))
		}
		if allowed(targets) > 0 {
			errs = append(errs, fmt.Errorf("%w: %d of %d targets lack data; at most %d (%g%%) may be left out",
				ErrInsufficientData, e.n, targets, allowed(targets), 100*MaxExcludedShare))
		}
		return errors.Join(errs...)
	}
	if mode == apitypes.ModeSplit {
		for _, v := range variants {
			if len(byVariant[v]) == 0 {
				return fmt.Errorf("%w: no agent running %s has data enough for figures (%d targets left out)", ErrInsufficientData, v, e.n)
			}
		}
	}
	return nil
}

// warnings say how many targets the figures leave out, and the first.
func (e *exclusions) warnings(targets int) []string {
	if e.n == 0 {
		return nil
	}
	uids := make([]string, len(e.agents))
	for i, a := range e.agents {
		uids[i] = a.InstanceUID
	}
	more := ""
	if e.n > len(uids) {
		more = fmt.Sprintf(" and %d more", e.n-len(uids))
	}
	return []string{fmt.Sprintf("%d of %d targets left out of the figures for want of data (%s%s; see excluded_agents): %v",
		e.n, targets, strings.Join(uids, ", "), more, e.errs[0])}
}
