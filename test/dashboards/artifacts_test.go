// Package dashboards tests Phoenix's Prometheus and Grafana files
// (deployments/prometheus, deployments/grafana): their structure, and every
// dashboard query, variable query, recording rule and alert run by a real
// Prometheus against a real phoenix server and supervised collector.
package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/test/testenv"
)

// The shipped files, relative to the repository.
const (
	prometheusDir    = "deployments/prometheus"
	rulesFile        = "deployments/prometheus/rules/phoenix.rules.yml"
	dashboardsDir    = "deployments/grafana/dashboards"
	datasourcesFile  = "deployments/grafana/provisioning/datasources/phoenix.yaml"
	dashProviderFile = "deployments/grafana/provisioning/dashboards/phoenix.yaml"
)

// grafanaBuiltins are the values the test gives Grafana's own interval
// variables: $__rate_interval covers several 2 s scrapes.
var grafanaBuiltins = map[string]string{"__rate_interval": "30s", "__interval": "5s", "__range": "5m"}

type dashboard struct {
	file          string
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
	Datasource *datasourceRef  `json:"datasource"`
	Current    struct {
		Value json.RawMessage `json:"value"`
	} `json:"current"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasourceRef           `json:"datasource"`
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Targets    []target                 `json:"targets"`
	Panels     []panel                  `json:"panels"` // a collapsed row's
}

type target struct {
	RefID      string         `json:"refId"`
	Expr       string         `json:"expr"`
	Instant    bool           `json:"instant"`
	Datasource *datasourceRef `json:"datasource"`
}

// query is one PromQL expression to run, as Grafana or Prometheus would.
type query struct {
	origin  string // where it comes from, for failure messages
	expr    string // variables substituted
	instant bool   // Grafana evaluates it at one instant (stat, bar gauge)
}

// loadDashboards reads every dashboard JSON file.
func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), dashboardsDir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no dashboards in %s: %v", dashboardsDir, err)
	}
	out := make([]dashboard, 0, len(paths))
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		d.file = filepath.Base(p)
		out = append(out, d)
	}
	return out
}

// allPanels flattens rows, collapsed or not.
func (d dashboard) allPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// values are what Grafana substitutes for each variable with its defaults:
// "All" (the allValue) for query variables, the text of the others.
func (d dashboard) values() (map[string]string, error) {
	vals := map[string]string{}
	for k, v := range grafanaBuiltins {
		vals[k] = v
	}
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			continue
		case "query":
			if !v.IncludeAll || v.AllValue == "" {
				return nil, fmt.Errorf("variable %s: query variables need includeAll and an allValue", v.Name)
			}
			vals[v.Name] = v.AllValue
		case "textbox", "custom", "constant":
			var s string
			if err := json.Unmarshal(v.Current.Value, &s); err != nil {
				return nil, fmt.Errorf("variable %s: current value: %w", v.Name, err)
			}
			vals[v.Name] = s
		default:
			return nil, fmt.Errorf("variable %s: unexpected type %q", v.Name, v.Type)
		}
	}
	return vals, nil
}

var variableRef = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)`)

// expand substitutes Grafana variables; an unknown one is an error.
func expand(expr string, vals map[string]string) (string, error) {
	var missing []string
	out := variableRef.ReplaceAllStringFunc(expr, func(ref string) string {
		m := variableRef.FindStringSubmatch(ref)
		name := m[1] + m[2]
		v, ok := vals[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("undefined variables %v", missing)
	}
	return out, nil
}

// panelQueries returns every panel target of a dashboard, substituted.
func (d dashboard) panelQueries() ([]query, error) {
	vals, err := d.values()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.file, err)
	}
	var out []query
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			origin := fmt.Sprintf("%s: panel %q %s", d.file, p.Title, tg.RefID)
			expr, err := expand(tg.Expr, vals)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", origin, err)
			}
			out = append(out, query{origin: origin, expr: expr, instant: tg.Instant})
		}
	}
	return out, nil
}

var labelValuesCall = regexp.MustCompile(`^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$`)

// variableQuery is a query variable's label_values(selector, label).
type variableQuery struct {
	origin, selector, label string
}

func (d dashboard) variableQueries() ([]variableQuery, error) {
	var out []variableQuery
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValuesCall.FindStringSubmatch(strings.TrimSpace(v.Definition))
		if m == nil {
			return nil, fmt.Errorf("%s: variable %s: want label_values(selector, label), got %q", d.file, v.Name, v.Definition)
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil || q.Query != v.Definition {
			return nil, fmt.Errorf("%s: variable %s: query.query must equal definition", d.file, v.Name)
		}
		out = append(out, variableQuery{origin: fmt.Sprintf("%s: variable %s", d.file, v.Name), selector: m[1], label: m[2]})
	}
	return out, nil
}

// rule is one recording or alerting rule of the shipped rules file.
type rule struct {
	Record string `yaml:"record"`
	Alert  string `yaml:"alert"`
	Expr   string `yaml:"expr"`
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), rulesFile))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no rules", rulesFile)
	}
	return out
}

func (r rule) origin() string {
	if r.Record != "" {
		return "record " + r.Record
	}
	return "alert " + r.Alert
}

// metricNames lists the metric names an expression selects.
func metricNames(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
		return nil
	})
	return names, nil
}

// usedNames collects the metric names of every query, variable selector and
// rule, with where each is used.
func usedNames(qs []query, vqs []variableQuery, rules []rule) (map[string][]string, error) {
	used := map[string][]string{}
	add := func(origin, expr string) error {
		names, err := metricNames(expr)
		if err != nil {
			return fmt.Errorf("%s: %w", origin, err)
		}
		if len(names) == 0 {
			return fmt.Errorf("%s: selects no metric", origin)
		}
		for _, n := range names {
			used[n] = append(used[n], origin)
		}
		return nil
	}
	for _, q := range qs {
		if err := add(q.origin, q.expr); err != nil {
			return nil, err
		}
	}
	for _, v := range vqs {
		if err := add(v.origin, v.selector); err != nil {
			return nil, err
		}
	}
	for _, r := range rules {
		if err := add(r.origin(), r.Expr); err != nil {
			return nil, err
		}
	}
	return used, nil
}
