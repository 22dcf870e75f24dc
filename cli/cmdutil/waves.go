package cmdutil

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseWaves reads a --waves flag, "1,10,50,100" (a trailing % allowed);
// the server checks the values.
func ParseWaves(s string) ([]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []float64
	for part := range strings.SplitSeq(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(part), "%"), 64)
		if err != nil {
			return nil, fmt.Errorf("--waves: %q is not a number: give cumulative percentages such as 1,10,50,100", strings.TrimSpace(part))
		}
		out = append(out, v)
	}
	return out, nil
}
