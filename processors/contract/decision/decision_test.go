package decision

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
)

// host serves a fixed set of extensions.
type host map[component.ID]component.Component

func (h host) GetExtensions() map[component.ID]component.Component { return h }

// extension is an extension that explains nothing.
type extension struct{}

func (extension) Start(context.Context, component.Host) error { return nil }
func (extension) Shutdown(context.Context) error              { return nil }

// recorder is an extension that takes decisions, as processz does.
type recorder struct{ extension }

func (*recorder) RecordDecisions(component.ID, []Record) {}

func TestFindRecorder(t *testing.T) {
	rec := &recorder{}
	health := component.MustNewID("health_check")
	processz := component.MustNewID("processz")
	tests := []struct {
		name string
		host component.Host
		want Recorder
	}{
		{"no host", nil, nil},
		{"no extensions", host{}, nil},
		{"no recorder among them", host{health: extension{}}, nil},
		{"a recorder among others", host{health: extension{}, processz: rec}, rec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FindRecorder(tt.host)
			if tt.want == nil {
				assert.Nil(t, got)
				return
			}
			assert.Same(t, tt.want, got)
		})
	}
}

func TestRecordJSON(t *testing.T) {
	// processz serves records as JSON: these keys are its API.
	full := Record{PID: 42, Host: "web-1", Executable: "nginx", Outcome: Kept, Rule: "web", Rank: 2, RankBy: "cpu",
		CPURate: 0.5, MemoryRSS: 1 << 20, OutStreak: 1, Group: "web"}
	raw, err := json.Marshal(full)
	require.NoError(t, err)
	assert.JSONEq(t, `{"pid":42,"host":"web-1","executable":"nginx","outcome":"kept","rule":"web","rank":2,"rank_by":"cpu",
		"cpu_rate":0.5,"memory_rss":1048576,"out_streak":1,"group":"web"}`, string(raw))

	raw, err = json.Marshal(Record{PID: 7, Executable: "bash", Outcome: Dropped})
	require.NoError(t, err)
	assert.JSONEq(t, `{"pid":7,"executable":"bash","outcome":"dropped"}`, string(raw), "what a processor has no say in is left out")
}
