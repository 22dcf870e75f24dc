package analysis // import "github.com/phoenix/platform/opamp-server/analysis"

import (
	"fmt"
	"math"
	"strconv"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// judge applies the criteria (defaults filled in) to the derived figures:
// one check per criterion, and a pass when none fails. Point estimates are
// judged, not interval bounds.
func judge(mode apitypes.Mode, c apitypes.Criteria, d apitypes.Derived, fid *apitypes.Fidelity) apitypes.Verdict {
	criticalNote := ""
	if d.BaselineSawNoCritical {
		criticalNote = " (the baseline saw no critical processes)"
	}
	checks := []apitypes.Check{
		atLeast(apitypes.CriterionSeriesReduction, "series reduction", d.SeriesReduction.Value, c.MinSeriesReduction, ""),
		atLeast(apitypes.CriterionCriticalRetention, "critical retention", d.CriticalRetention, *c.MinCriticalRetention, criticalNote),
		cpuCheck(mode, c.MaxCPUIncrease, d.CPUIncrease),
	}
	checks = append(checks, fidelityChecks(mode, c, fid)...)
	v := apitypes.Verdict{Pass: true, Checks: checks}
	for _, ch := range checks {
		if ch.Outcome == apitypes.OutcomeFail {
			v.Pass = false
		}
	}
	return v
}

func atLeast(criterion apitypes.Criterion, what string, got, least float64, note string) apitypes.Check {
	ch := apitypes.Check{Criterion: criterion, Outcome: apitypes.OutcomePass}
	op := "≥"
	if got < least {
		ch.Outcome, op = apitypes.OutcomeFail, "<"
	}
	ch.Reason = fmt.Sprintf("%s %s %s %s required%s", what, percentAgainst(got, least), op, percent(least), note)
	return ch
}

func cpuCheck(mode apitypes.Mode, most *float64, inc *apitypes.Estimate) apitypes.Check {
	ch := apitypes.Check{Criterion: apitypes.CriterionCPUIncrease, Outcome: apitypes.OutcomeNotJudged}
	switch {
	case mode == apitypes.ModePaired || inc == nil:
		ch.Reason = "collector CPU not compared in paired mode"
	case most == nil:
		ch.Reason = fmt.Sprintf("collector CPU increase %s (not judged: no max_cpu_increase given)", percentAgainst(inc.Value, 0))
	case inc.Value > *most:
		ch.Outcome = apitypes.OutcomeFail
		ch.Reason = fmt.Sprintf("collector CPU increase %s > %s allowed", percentAgainst(inc.Value, *most), percent(*most))
	default:
		ch.Outcome = apitypes.OutcomePass
		ch.Reason = fmt.Sprintf("collector CPU increase %s ≤ %s allowed", percentAgainst(inc.Value, *most), percent(*most))
	}
	return ch
}

// fidelityChecks judge the fidelity criteria given (a criterion not given
// adds no check): not judged when the figure is absent or the mode cannot
// measure it.
func fidelityChecks(mode apitypes.Mode, c apitypes.Criteria, fid *apitypes.Fidelity) []apitypes.Check {
	if fid == nil {
		fid = &apitypes.Fidelity{}
	}
	var checks []apitypes.Check
	if least := c.MinCPUCoverage; least != nil {
		ch := apitypes.Check{Criterion: apitypes.CriterionCPUCoverage, Outcome: apitypes.OutcomeNotJudged}
		switch got := fid.CPUCoverage; {
		case got == nil:
			ch.Reason = "CPU coverage not judged: " + absentReason(fid, "CPU coverage")
		default:
			ch = atLeast(apitypes.CriterionCPUCoverage, "CPU coverage", *got, *least, "")
			if fid.CoverageUpperBound {
				ch.Reason += " (split mode: an upper bound)"
			}
		}
		checks = append(checks, ch)
	}
	if most := c.MaxBlindSpotsPerHour; most != nil {
		ch := apitypes.Check{Criterion: apitypes.CriterionBlindSpots, Outcome: apitypes.OutcomeNotJudged}
		got := fid.BlindSpotsPerHour
		switch {
		case mode == apitypes.ModeSplit:
			ch.Reason = "blind spots not judged: not measurable in split mode (no reference variant on the same hosts)"
		case got == nil:
			ch.Reason = "blind spots not judged: " + absentReason(fid, "blind spots")
		case *got > *most:
			ch.Outcome = apitypes.OutcomeFail
			ch.Reason = fmt.Sprintf("blind spots %s per agent-hour > %s allowed", perHour(*got), perHour(*most))
		default:
			ch.Outcome = apitypes.OutcomePass
			ch.Reason = fmt.Sprintf("blind spots %s per agent-hour ≤ %s allowed", perHour(*got), perHour(*most))
		}
		checks = append(checks, ch)
	}
	return checks
}

// absentReason says why a fidelity figure is missing.
func absentReason(fid *apitypes.Fidelity, what string) string {
	if fid.Agents == 0 {
		return "the collectors did not export cost_meter's fidelity series"
	}
	return "no agent reported the series " + what + " needs"
}

// perHour writes a rate with up to two decimals.
func perHour(f float64) string {
	return strconv.FormatFloat(round(f, 2), 'f', -1, 64)
}

// percent writes a threshold as a percentage, as short as it is exact to a
// millionth: 0.5 → "50%", 0.125 → "12.5%".
func percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*100*1e6)/1e6, 'f', -1, 64) + "%"
}

// percentAgainst writes a measured fraction with one decimal, or more when
// one decimal would show it equal to a threshold it differs from — so a
// reason never reads "100.0% < 100% required".
func percentAgainst(f, threshold float64) string {
	for decimals := 1; ; decimals++ {
		s := strconv.FormatFloat(f*100, 'f', decimals, 64)
		shown, _ := strconv.ParseFloat(s, 64)
		if f == threshold || decimals == 6 || shown != round(threshold*100, decimals) {
			return s + "%"
		}
	}
}

func round(f float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(f*p) / p
}
