package processz // import "github.com/phoenix/platform/extensions/processz"

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/phoenix/platform/processors/contract/decision"
)

// Path is where the page is served.
const Path = "/processz"

//go:embed processz.html.tmpl
var pageTemplateText string

var pageTemplate = template.Must(template.New("processz").Parse(pageTemplateText))

// outcomeOrder is the order outcomes are shown in: the order a process meets
// them along the chain.
var outcomeOrder = []decision.Outcome{decision.Critical, decision.Kept, decision.RolledUp, decision.Dropped}

// handler serves the page from the store.
type handler struct {
	store  *store
	now    func() time.Time
	logger *zap.Logger
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	asJSON, err := wantsJSON(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	query := r.URL.Query().Get("q")
	page := buildPage(h.store.snapshot(), filter(query), h.now())

	var body bytes.Buffer
	if asJSON {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(&body)
		enc.SetIndent("", "  ")
		err = enc.Encode(page)
	} else {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		err = pageTemplate.Execute(&body, newHTMLPage(page, query))
	}
	if err != nil {
		h.logger.Error("rendering /processz failed", zap.Error(err))
		http.Error(w, "rendering failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body.Bytes())
}

// wantsJSON reads the format parameter, falling back to the Accept header:
// JSON when the client accepts application/json but not text/html.
func wantsJSON(r *http.Request) (bool, error) {
	switch format := r.URL.Query().Get("format"); format {
	case "json":
		return true, nil
	case "html":
		return false, nil
	case "":
	default:
		return false, fmt.Errorf("format: want json or html, got %q", format)
	}
	acceptsJSON, acceptsHTML := false, false
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "application/json":
			acceptsJSON = true
		case "text/html":
			acceptsHTML = true
		}
	}
	return acceptsJSON && !acceptsHTML, nil
}

// htmlPage is Page laid out for the template: one column per source.
type htmlPage struct {
	Page
	Query        string
	JSONLink     string
	ShowHost     bool
	OutcomeNames []string
	SourceRows   []htmlSource
	Totals       []outcomeCount
	Rows         []htmlRow
}

type htmlSource struct {
	Source
	Age    string
	Counts []int // per outcome, in OutcomeNames order
}

type outcomeCount struct {
	Name  string
	Count int
}

type htmlRow struct {
	Process
	Cells []htmlCell // per source, in Sources order
}

type htmlCell struct {
	Outcome decision.Outcome
	Text    string
	Detail  string
}

func newHTMLPage(page Page, query string) htmlPage {
	link := url.Values{"format": {"json"}}
	if query != "" {
		link.Set("q", query)
	}
	hp := htmlPage{Page: page, Query: query, JSONLink: "?" + link.Encode()}

	outcomes := shownOutcomes(page)
	for _, o := range outcomes {
		name := strings.ReplaceAll(string(o), "_", " ")
		hp.OutcomeNames = append(hp.OutcomeNames, name)
		if n := page.Summary.Outcomes[o]; n > 0 {
			hp.Totals = append(hp.Totals, outcomeCount{Name: name, Count: n})
		}
	}
	column := make(map[string]int, len(page.Sources))
	for i, s := range page.Sources {
		column[s.ID] = i
		hs := htmlSource{Source: s, Age: page.GeneratedAt.Sub(s.LastReport).Round(time.Second).String()}
		for _, o := range outcomes {
			hs.Counts = append(hs.Counts, s.Outcomes[o])
		}
		hp.SourceRows = append(hp.SourceRows, hs)
	}
	for _, p := range page.Processes {
		hp.ShowHost = hp.ShowHost || p.Host != ""
		row := htmlRow{Process: p, Cells: make([]htmlCell, len(page.Sources))}
		for _, d := range p.Decisions {
			// A source reporting the same process twice shows its last say.
			row.Cells[column[d.Source]] = cellOf(d)
		}
		hp.Rows = append(hp.Rows, row)
	}
	return hp
}

// shownOutcomes returns the known outcomes, then any others the sources
// reported, sorted.
func shownOutcomes(page Page) []decision.Outcome {
	outcomes := slices.Clone(outcomeOrder)
	var extra []decision.Outcome
	for _, s := range page.Sources {
		for o := range s.Outcomes {
			if !slices.Contains(outcomes, o) && !slices.Contains(extra, o) {
				extra = append(extra, o)
			}
		}
	}
	slices.Sort(extra)
	return append(outcomes, extra...)
}

func cellOf(d Decision) htmlCell {
	c := htmlCell{Outcome: d.Outcome, Text: strings.ReplaceAll(string(d.Outcome), "_", " ")}
	switch {
	case d.Rule != "":
		c.Text += ": rule " + d.Rule
	case d.Group != "":
		c.Text += " into " + d.Group
	case d.Rank > 0:
		c.Text += fmt.Sprintf(": #%d", d.Rank)
		if d.RankBy != "" {
			c.Text += " by " + d.RankBy
		}
	}
	var detail []string
	if d.CPURate != 0 {
		detail = append(detail, fmt.Sprintf("%.3f cpu/s", d.CPURate))
	}
	if d.MemoryRSS != 0 {
		detail = append(detail, fmt.Sprintf("%.1f MiB", float64(d.MemoryRSS)/(1<<20)))
	}
	if d.OutStreak != 0 {
		scrapes := "scrapes"
		if d.OutStreak == 1 {
			scrapes = "scrape"
		}
		detail = append(detail, fmt.Sprintf("kept by hysteresis: out of top k for %d %s", d.OutStreak, scrapes))
	}
	c.Detail = strings.Join(detail, " · ")
	return c
}
