package experiments

import (
	"encoding/json"
	"testing"
)

// FuzzParseSpec: any document parses or is refused with an error, never a
// panic; a spec that parses writes out as JSON that parses to the same spec.
func FuzzParseSpec(f *testing.F) {
	for _, seed := range []string{
		"name: t\ntargets: {selector: env=test}\nbaseline: {pipeline: baseline}\ncandidate: {pipeline: topk}\nduration: 2m\n",
		`{"name": "j", "targets": {"selector": "a=b"}, "baseline": {"current": true}, "candidate": {"pipeline": "topk"}, "duration": 300}`,
		"duration: 292y", "critical_processes: [{name: db, executable_name: '['}]", "mode: sideways", "- [", "",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		spec, err := ParseSpec(raw)
		if err != nil {
			return
		}
		out, err := json.Marshal(spec)
		if err != nil {
			t.Fatalf("a valid spec does not encode: %v", err)
		}
		again, err := ParseSpec(out)
		if err != nil {
			t.Fatalf("%s: its JSON form does not parse: %v", raw, err)
		}
		a, _ := json.Marshal(again)
		if string(a) != string(out) {
			t.Fatalf("round trip changed the spec:\n%s\n%s", out, a)
		}
	})
}
