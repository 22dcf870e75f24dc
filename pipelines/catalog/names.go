package catalog // import "github.com/phoenix/platform/pipelines/catalog"

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// maxNameLen is the longest candidate name (the cost_meter variant rule).
const maxNameLen = 64

// CandidateName names a candidate after its pipeline and parameters, for
// command lines such as --candidate topk-rollup:k=5, so that the name says
// what the candidate runs: the pipeline, then per parameter in key order "-"
// and the key, followed by the value, after a "-" when the value starts with
// a letter.
//
//	CandidateName("topk-rollup", map[string]any{"k": 5})              // topk-rollup-k5
//	CandidateName("topk-rollup", map[string]any{"k": "5"})            // topk-rollup-k5
//	CandidateName("topk", map[string]any{"others": "rollup"})         // topk-others-rollup
//	CandidateName("topk-rollup", map[string]any{"group_by": []string{"process.owner", "host.name"}})
//	                                                                  // topk-rollup-group_by-process.owner_host.name
//
// Numbers print in plain decimal, booleans as true and false, lists of
// scalars joined with "_"; any other value (a map, a list of maps) prints as
// "h" and 8 hex digits of its hash. Characters the name rule refuses become
// "_", leading '.', '_' and '-' are dropped, an empty name becomes
// "candidate" and a reserved one ("baseline", "system") gets "-candidate"
// appended. A name longer than 64 characters keeps its first 55 and ends
// with "-" and 8 hex digits of a hash of the whole. The result is
// deterministic and always a valid PairedSpec.Candidates name; making the
// names of one spec unique is the caller's job.
func CandidateName(pipeline string, params map[string]any) string {
	var b strings.Builder
	b.WriteString(pipeline)
	for _, key := range slices.Sorted(maps.Keys(params)) {
		v := nameValue(params[key])
		b.WriteString("-" + key)
		if v != "" && isASCIILetter(v[0]) {
			b.WriteString("-")
		}
		b.WriteString(v)
	}
	whole := b.String()
	name := strings.TrimLeft(strings.Map(func(r rune) rune {
		if r < 128 && (isASCIILetter(byte(r)) || (r >= '0' && r <= '9') || r == '.' || r == '_' || r == '-') {
			return r
		}
		return '_'
	}, whole), "._-")
	switch {
	case name == "":
		name = VariantCandidate
	case reservedNames[strings.ToLower(name)] != "":
		name += "-" + VariantCandidate
	}
	if len(name) > maxNameLen {
		// Only ASCII is left, so byte offsets are character offsets.
		name = name[:maxNameLen-9] + "-" + shortHash(whole)
	}
	return name
}

// nameValue is a parameter value as CandidateName prints it.
func nameValue(v any) string {
	if s, ok := scalarText(v); ok {
		return s
	}
	if items, ok := scalarList(v); ok {
		return strings.Join(items, "_")
	}
	// fmt prints map keys sorted, so the text is deterministic.
	return "h" + shortHash(fmt.Sprintf("%#v", v))
}

// scalarList is a list of scalars as text.
func scalarList(v any) ([]string, bool) {
	switch l := v.(type) {
	case []string:
		return l, true
	case []any:
		items := make([]string, len(l))
		for i, e := range l {
			s, ok := scalarText(e)
			if !ok {
				return nil, false
			}
			items[i] = s
		}
		return items, true
	}
	return nil, false
}

func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

func isASCIILetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}
