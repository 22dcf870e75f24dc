package apitypes

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBlindSpotSampleNameRoundTrips(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ resource, host, name, want string }{
		{"cpu", "web-1", "java", BlindSpotPrefix + "cpu/web-1/java"},
		{"memory", "", "postgres", BlindSpotPrefix + "memory//postgres"},
		{"cpu", "a/b", "100%/x", BlindSpotPrefix + "cpu/a%2Fb/100%25%2Fx"},
		{"cpu", "h", "tab\there\x7f", BlindSpotPrefix + "cpu/h/tab%09here%7F"},
		{"cpu", "hôte", "naïve", BlindSpotPrefix + "cpu/hôte/naïve"},
	} {
		got, cut, err := BlindSpotSampleName(c.resource, c.host, c.name)
		require.NoError(t, err)
		assert.False(t, cut)
		assert.Equal(t, c.want, got)
		resource, host, name, ok, err := ParseBlindSpotSampleName(got)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, [3]string{c.resource, c.host, c.name}, [3]string{resource, host, name})
	}
}

func TestBlindSpotSampleNameBoundsParts(t *testing.T) {
	t.Parallel()
	for _, long := range []string{strings.Repeat("x", 1000), strings.Repeat("/", 1000), strings.Repeat("é", 1000)} {
		got, cut, err := BlindSpotSampleName("memory", long, long)
		require.NoError(t, err)
		assert.True(t, cut)
		assert.LessOrEqual(t, len(got), len(BlindSpotPrefix)+len("memory")+2+2*MaxBlindSpotPartBytes)
		assert.LessOrEqual(t, len(got), 256, "within the store's key limit")
		_, host, name, ok, err := ParseBlindSpotSampleName(got)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.True(t, strings.HasSuffix(host, "…") && strings.HasSuffix(name, "…"))
		assert.True(t, strings.HasPrefix(long, strings.TrimSuffix(name, "…")), "cut at a character boundary")
	}
	// Exactly at the limit: kept whole.
	exact := strings.Repeat("y", MaxBlindSpotPartBytes)
	got, cut, err := BlindSpotSampleName("cpu", "h", exact)
	require.NoError(t, err)
	assert.False(t, cut)
	assert.True(t, strings.HasSuffix(got, "/"+exact))
}

func TestBlindSpotSampleNameRejects(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ resource, host, name, want string }{
		{"disk", "h", "x", "resource"},
		{"", "h", "x", "resource"},
		{"cpu", "h", "", "empty"},
		{"cpu", "h\xff", "x", "UTF-8"},
	} {
		_, _, err := BlindSpotSampleName(c.resource, c.host, c.name)
		require.Error(t, err)
		assert.Contains(t, err.Error(), c.want)
	}
	for _, bad := range []string{
		BlindSpotPrefix + "cpu/h",
		BlindSpotPrefix + "cpu/h/x/y",
		BlindSpotPrefix + "disk/h/x",
		BlindSpotPrefix + "cpu/h/%2",
		BlindSpotPrefix + "cpu/h/%zz",
		BlindSpotPrefix + "cpu/h/%2f", // lower-case hex is never written
		BlindSpotPrefix + "cpu/h/",
	} {
		_, _, _, ok, err := ParseBlindSpotSampleName(bad)
		assert.True(t, ok, bad)
		assert.Error(t, err, bad)
	}
	_, _, _, ok, err := ParseBlindSpotSampleName(BlindSpotPeakMetric)
	assert.False(t, ok)
	assert.NoError(t, err)
}
