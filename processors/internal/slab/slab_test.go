package slab

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNewHandsOutDistinctZeroValues(t *testing.T) {
	var s Slab[[2]int]
	var got []*[2]int
	for i := range 3*chunkLen + 1 {
		v := s.New()
		assert.Equal(t, [2]int{}, *v, "a new value is zero")
		v[0] = i + 1
		got = append(got, v)
	}
	for i, v := range got {
		assert.Equal(t, i+1, v[0], "a value is handed out once and stays put")
	}
}
