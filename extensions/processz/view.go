package processz // import "github.com/phoenix/platform/extensions/processz"

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/phoenix/platform/processors/contract/decision"
	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// Page is what /processz shows: every process of the sources' latest reports,
// with what each source decided about it. Its JSON form is the API.
type Page struct {
	GeneratedAt time.Time `json:"generated_at"`
	Summary     Summary   `json:"summary"`
	// Sources are sorted by ID.
	Sources []Source `json:"sources"`
	// Processes are sorted critical first, then by best rank (unranked
	// last), then by host and PID.
	Processes []Process `json:"processes"`
}

// Summary counts the processes shown.
type Summary struct {
	Processes int `json:"processes"`
	// Outcomes counts processes that at least one source gave the outcome;
	// a process decided differently by A/B pipelines counts under each.
	Outcomes map[decision.Outcome]int `json:"outcomes"`
}

// Source is one processor instance's latest report.
type Source struct {
	// ID is the processor's component ID, e.g. "process_topk/candidate".
	ID         string    `json:"id"`
	LastReport time.Time `json:"last_report"`
	Records    int       `json:"records"`
	// Outcomes counts the report's records per outcome.
	Outcomes map[decision.Outcome]int `json:"outcomes"`
}

// Process is one process (host and PID) with every source's decision.
type Process struct {
	Host       string `json:"host,omitempty"`
	PID        int64  `json:"pid"`
	Executable string `json:"executable"`
	// Critical is true when any source decided critical.
	Critical bool `json:"critical"`
	// BestRank is the lowest non-zero rank any source gave; 0 when unranked.
	BestRank int `json:"best_rank,omitempty"`
	// Decisions are sorted by source ID.
	Decisions []Decision `json:"decisions"`
}

// Decision is what one source decided about a process. Fields the source
// has no say in are left out.
type Decision struct {
	Source    string           `json:"source"`
	Outcome   decision.Outcome `json:"outcome"`
	Rule      string           `json:"rule,omitempty"`
	Rank      int              `json:"rank,omitempty"`
	RankBy    string           `json:"rank_by,omitempty"`
	CPURate   float64          `json:"cpu_rate,omitempty"`
	MemoryRSS int64            `json:"memory_rss,omitempty"`
	OutStreak int              `json:"out_streak,omitempty"`
	Group     string           `json:"group,omitempty"`
}

// filter selects processes: by exact PID when the query is a number, else by
// a case-insensitive substring of the executable name. Empty selects all.
type filter string

func (f filter) matches(key processmetrics.Key, executable string) bool {
	q := strings.TrimSpace(string(f))
	if q == "" {
		return true
	}
	if pid, err := strconv.ParseInt(q, 10, 64); err == nil {
		return key.PID == pid
	}
	return strings.Contains(strings.ToLower(executable), strings.ToLower(q))
}

// buildPage merges the reports per process.
func buildPage(reports []report, q filter, now time.Time) Page {
	slices.SortFunc(reports, func(a, b report) int { return cmp.Compare(a.source.String(), b.source.String()) })
	page := Page{
		GeneratedAt: now,
		Summary:     Summary{Outcomes: map[decision.Outcome]int{}},
		Sources:     make([]Source, 0, len(reports)),
	}
	byKey := map[processmetrics.Key]*Process{}
	for _, r := range reports {
		src := Source{ID: r.source.String(), LastReport: r.at, Records: len(r.records), Outcomes: map[decision.Outcome]int{}}
		for i := range r.records {
			rec := &r.records[i]
			src.Outcomes[rec.Outcome]++
			key := processmetrics.Key{Host: rec.Host, PID: rec.PID}
			p := byKey[key]
			if p == nil {
				p = &Process{Host: rec.Host, PID: rec.PID}
				byKey[key] = p
			}
			p.add(src.ID, rec)
		}
		page.Sources = append(page.Sources, src)
	}

	page.Processes = make([]Process, 0, len(byKey))
	for key, p := range byKey {
		if !q.matches(key, p.Executable) {
			continue
		}
		page.Processes = append(page.Processes, *p)
		seen := map[decision.Outcome]bool{}
		for _, d := range p.Decisions {
			if !seen[d.Outcome] {
				seen[d.Outcome] = true
				page.Summary.Outcomes[d.Outcome]++
			}
		}
	}
	page.Summary.Processes = len(page.Processes)
	slices.SortFunc(page.Processes, compareProcesses)
	return page
}

// add records one source's decision. Sources arrive in ID order, so
// decisions stay sorted by source.
func (p *Process) add(source string, rec *decision.Record) {
	if p.Executable == "" {
		p.Executable = rec.Executable
	}
	if rec.Outcome == decision.Critical {
		p.Critical = true
	}
	if rec.Rank > 0 && (p.BestRank == 0 || rec.Rank < p.BestRank) {
		p.BestRank = rec.Rank
	}
	p.Decisions = append(p.Decisions, Decision{
		Source: source, Outcome: rec.Outcome, Rule: rec.Rule,
		Rank: rec.Rank, RankBy: rec.RankBy, CPURate: rec.CPURate, MemoryRSS: rec.MemoryRSS,
		OutStreak: rec.OutStreak, Group: rec.Group,
	})
}

func compareProcesses(a, b Process) int {
	if a.Critical != b.Critical {
		if a.Critical {
			return -1
		}
		return 1
	}
	if a.BestRank != b.BestRank {
		switch {
		case a.BestRank == 0:
			return 1
		case b.BestRank == 0:
			return -1
		}
		return cmp.Compare(a.BestRank, b.BestRank)
	}
	return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.PID, b.PID))
}
