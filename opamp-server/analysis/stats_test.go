package analysis

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStudentTQuantile(t *testing.T) {
	t.Parallel()
	// Reference values: t(0.975, df) from standard tables (scipy.stats.t.ppf).
	tests := []struct {
		df, want float64
	}{
		{1, 12.706204736174698},
		{2, 4.302652729749464},
		{3, 3.182446305284263},
		{4, 2.7764451051977934},
		{9, 2.2621571628540993},
		{29, 2.045229642132703},
		{1000, 1.9623390808264078},
		{1e7, 1.959964},
	}
	for _, tt := range tests {
		assert.InDelta(t, tt.want, studentTQuantile(0.975, tt.df), 1e-6, "df %g", tt.df)
	}
	// The median is 0; the CDF is symmetric.
	assert.InDelta(t, 0, studentTQuantile(0.5, 5), 1e-9)
	assert.InDelta(t, 1-studentTCDF(1.3, 3.5), studentTCDF(-1.3, 3.5), 1e-12)
}

func TestRegularizedIncompleteBeta(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 0.0, regularizedIncompleteBeta(2, 3, 0))
	assert.Equal(t, 1.0, regularizedIncompleteBeta(2, 3, 1))
	// I_x(1, 1) = x; I_x(2, 1) = x²; I_x(a, b) = 1 − I_{1−x}(b, a).
	assert.InDelta(t, 0.3, regularizedIncompleteBeta(1, 1, 0.3), 1e-12)
	assert.InDelta(t, 0.49, regularizedIncompleteBeta(2, 1, 0.7), 1e-12)
	assert.InDelta(t, 1-regularizedIncompleteBeta(5, 2.5, 0.6), regularizedIncompleteBeta(2.5, 5, 0.4), 1e-12)
}

func TestPairedEstimate(t *testing.T) {
	t.Parallel()
	one := pairedEstimate([]float64{0.7})
	assert.Equal(t, 0.7, one.Value)
	assert.Nil(t, one.Interval)

	// n = 2: values 0.6 and 0.8, mean 0.7, s = √0.02, t(0.975, 1) = 12.7062.
	two := pairedEstimate([]float64{0.6, 0.8})
	require.NotNil(t, two.Interval)
	half := 12.706204736174698 * math.Sqrt(0.02) / math.Sqrt(2)
	assert.InDelta(t, 0.7-half, two.Interval.Low, 1e-9)
	assert.InDelta(t, 0.7+half, two.Interval.High, 1e-9)
	assert.Equal(t, 1.0, two.Interval.DegreesOfFreedom)
}

func TestRatioEstimate(t *testing.T) {
	t.Parallel()
	// One cohort without spread: df falls back to the other's n − 1.
	e := ratioEstimate([]float64{10, 10, 10}, []float64{4, 6}, +1)
	assert.InDelta(t, -0.5, e.Value, 1e-12)
	require.NotNil(t, e.Interval)
	assert.InDelta(t, 1, e.Interval.DegreesOfFreedom, 1e-12)
	// SE = R·√(s_c²/(n_c·m_c²)) = 0.5·√(2/(2·25)) = 0.1.
	assert.InDelta(t, -0.5-12.706204736174698*0.1, e.Interval.Low, 1e-9)

	// No spread at all: a zero-width interval with n_b + n_c − 2 df.
	flat := ratioEstimate([]float64{10, 10}, []float64{5, 5}, -1)
	assert.InDelta(t, 0.5, flat.Value, 1e-12)
	assert.Equal(t, flat.Value, flat.Interval.Low)
	assert.Equal(t, flat.Value, flat.Interval.High)
	assert.Equal(t, 2.0, flat.Interval.DegreesOfFreedom)

	// A candidate cohort at 0: a full reduction, spread from the baseline.
	zero := ratioEstimate([]float64{8, 12}, []float64{0, 0}, -1)
	assert.Equal(t, 1.0, zero.Value)
	assert.Equal(t, 1.0, zero.Interval.Low, "R = 0 scales the standard error to 0")
}
