package experiments

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// stateDoc is how an experiment's state is stored: its targets' previous
// parameters are kept once per distinct value instead of once per target.
// A fleet's targets mostly share one pipeline and parameters (the critical
// rules alone are about 2 KiB), so at 10,000 targets this is the difference
// between a 28 MB and a 4 MB document, read and rewritten at every step.
// State stored before it was shared holds each target's parameters inline,
// and still reads.
type stateDoc struct {
	apitypes.ExperimentState
	// Targets shadows the embedded state's targets in the document.
	Targets []targetDoc `json:"targets,omitempty"`
	// PreviousParameters are the distinct parameters of the targets'
	// previous assignments.
	PreviousParameters []map[string]any `json:"previous_parameters,omitempty"`
}

// targetDoc is a stored target: Parameters is its previous assignment's
// parameters' position in PreviousParameters, plus one (0: inline or none).
type targetDoc struct {
	apitypes.ExperimentTarget
	Parameters int `json:"previous_parameters,omitempty"`
}

func encodeState(s apitypes.ExperimentState) ([]byte, error) {
	doc := stateDoc{ExperimentState: s, Targets: make([]targetDoc, len(s.Targets))}
	doc.ExperimentState.Targets = nil
	// Targets decoded together share their parameters' map, so most are
	// found by identity without encoding them.
	byMap := map[uintptr]int{}
	byText := map[string]int{}
	for i, t := range s.Targets {
		td := targetDoc{ExperimentTarget: t}
		if params := t.Previous.Parameters; len(params) > 0 {
			ptr := reflect.ValueOf(params).Pointer()
			n, ok := byMap[ptr]
			if !ok {
				text, err := json.Marshal(params)
				if err != nil {
					return nil, fmt.Errorf("target %s: previous parameters: %w", t.InstanceUID, err)
				}
				if n, ok = byText[string(text)]; !ok {
					doc.PreviousParameters = append(doc.PreviousParameters, params)
					n = len(doc.PreviousParameters)
					byText[string(text)] = n
				}
				byMap[ptr] = n
			}
			td.Previous.Parameters, td.Parameters = nil, n
		}
		doc.Targets[i] = td
	}
	return json.Marshal(doc)
}

func decodeState(data []byte, s *apitypes.ExperimentState) error {
	var doc stateDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	*s = doc.ExperimentState
	s.Targets = nil
	if doc.Targets != nil {
		s.Targets = make([]apitypes.ExperimentTarget, len(doc.Targets))
	}
	for i, td := range doc.Targets {
		t := td.ExperimentTarget
		if n := td.Parameters; n > 0 {
			if n > len(doc.PreviousParameters) {
				return fmt.Errorf("target %s: previous parameters %d of %d", t.InstanceUID, n, len(doc.PreviousParameters))
			}
			// Shared, as stored: nothing changes a previous assignment's
			// parameters in place (rendering and redaction copy them).
			t.Previous.Parameters = doc.PreviousParameters[n-1]
		}
		s.Targets[i] = t
	}
	return nil
}
