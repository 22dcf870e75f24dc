package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPageLimit(t *testing.T) {
	t.Parallel()
	for limit, want := range map[int]int{0: DefaultPageLimit, 1: 1, 999: 999, MaxPageLimit: MaxPageLimit, MaxPageLimit + 1: MaxPageLimit} {
		got, err := PageLimit(Page{Limit: limit})
		require.NoError(t, err)
		assert.Equal(t, want, got, "limit %d", limit)
	}
	_, err := PageLimit(Page{Limit: -1})
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []Cursor{
		{ID: "agent-1"},
		{Time: time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC), ID: "exp/with\x01odd bytes"},
		{Time: time.Date(1901, 1, 1, 0, 0, 0, 0, time.UTC), ID: ""},
	} {
		got, err := DecodeCursor(c.Encode())
		require.NoError(t, err)
		assert.Equal(t, c, got)
	}
	got, err := DecodeCursor("")
	require.NoError(t, err)
	assert.Equal(t, Cursor{}, got, "the first page")
}

func TestCursorMalformed(t *testing.T) {
	t.Parallel()
	for _, after := range []string{"!!!", "AQ", Cursor{ID: "x"}.Encode()[1:], "AgAAAAAAAAAAeA"} {
		_, err := DecodeCursor(after)
		assert.ErrorIs(t, err, ErrInvalid, after)
	}
}
