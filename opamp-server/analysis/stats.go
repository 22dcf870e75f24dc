package analysis // import "github.com/phoenix/platform/opamp-server/analysis"

import (
	"math"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// confidence is the level of every interval Analyze reports.
const confidence = 0.95

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// sampleVariance is the unbiased variance (n − 1 denominator); 0 below two
// values.
func sampleVariance(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	m := mean(xs)
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return ss / float64(len(xs)-1)
}

// pairedEstimate is the mean of per-agent values with the t interval
// mean ± t(0.975, n−1)·s/√n; no interval for a single agent.
func pairedEstimate(xs []float64) apitypes.Estimate {
	e := apitypes.Estimate{Value: mean(xs)}
	n := len(xs)
	if n < 2 {
		return e
	}
	df := float64(n - 1)
	half := studentTQuantile(1-(1-confidence)/2, df) * math.Sqrt(sampleVariance(xs)/float64(n))
	e.Interval = &apitypes.Interval{Low: e.Value - half, High: e.Value + half, Confidence: confidence,
		Method: apitypes.MethodPairedT, DegreesOfFreedom: df}
	return e
}

// ratioEstimate compares two independent cohorts by the ratio of their means
// R = mean(cand)/mean(base), returned as sign·(R − 1): sign −1 gives the
// reduction 1 − R, +1 the increase R − 1. The interval uses the delta
// method's standard error of R,
//
//	SE² = R²·(s_c²/(n_c·m_c²) + s_b²/(n_b·m_b²)),
//
// and a t quantile with Welch–Satterthwaite degrees of freedom on the two
// relative variance terms; no interval unless both cohorts have two agents.
// The caller guarantees mean(base) ≠ 0.
func ratioEstimate(base, cand []float64, sign float64) apitypes.Estimate {
	mb, mc := mean(base), mean(cand)
	r := mc / mb
	e := apitypes.Estimate{Value: sign * (r - 1)}
	nb, nc := float64(len(base)), float64(len(cand))
	if nb < 2 || nc < 2 {
		return e
	}
	termC := 0.0
	if mc != 0 {
		termC = sampleVariance(cand) / (nc * mc * mc)
	}
	termB := sampleVariance(base) / (nb * mb * mb)
	df := nb + nc - 2
	if sum := termB + termC; sum > 0 {
		df = sum * sum / (termC*termC/(nc-1) + termB*termB/(nb-1))
	}
	half := studentTQuantile(1-(1-confidence)/2, df) * math.Abs(r) * math.Sqrt(termB+termC)
	e.Interval = &apitypes.Interval{Low: e.Value - half, High: e.Value + half, Confidence: confidence,
		Method: apitypes.MethodDeltaWelch, DegreesOfFreedom: df}
	return e
}

// studentTQuantile returns t with P(T ≤ t) = p for Student's t distribution
// with df > 0 degrees of freedom, for p in [0.5, 1), by bisection on the CDF
// (precise to well below 1e-9; called a handful of times per analysis).
func studentTQuantile(p, df float64) float64 {
	lo, hi := 0.0, 1.0
	for i := 0; i < 64 && studentTCDF(hi, df) < p; i++ {
		lo, hi = hi, hi*2
	}
	for range 100 {
		mid := (lo + hi) / 2
		if studentTCDF(mid, df) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// studentTCDF is P(T ≤ t): 1 − ½·I_{df/(df+t²)}(df/2, ½) for t ≥ 0.
func studentTCDF(t, df float64) float64 {
	tail := 0.5 * regularizedIncompleteBeta(df/2, 0.5, df/(df+t*t))
	if t >= 0 {
		return 1 - tail
	}
	return tail
}

// regularizedIncompleteBeta is I_x(a, b), evaluated with the continued
// fraction on whichever side converges fast (Numerical Recipes §6.4).
func regularizedIncompleteBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	lga, _ := math.Lgamma(a)
	lgb, _ := math.Lgamma(b)
	lgab, _ := math.Lgamma(a + b)
	front := math.Exp(lgab - lga - lgb + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaContinuedFraction(a, b, x) / a
	}
	return 1 - front*betaContinuedFraction(b, a, 1-x)/b
}

// betaContinuedFraction evaluates the incomplete beta function's continued
// fraction with the modified Lentz method.
func betaContinuedFraction(a, b, x float64) float64 {
	const (
		tiny = 1e-300
		eps  = 1e-15
	)
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1.0; m <= 300; m++ {
		m2 := 2 * m
		aa := m * (b - m) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}
