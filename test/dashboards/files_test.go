package dashboards

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/config"
	_ "github.com/prometheus/prometheus/discovery/kubernetes" // kubernetes_sd_configs in prometheus-kubernetes.yml
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/testenv"
)

// provisionedDatasource reads the datasource provisioning file.
func provisionedDatasource(t *testing.T) (uid, typ, url string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), datasourcesFile))
	require.NoError(t, err)
	var f struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &f))
	require.Equal(t, 1, f.APIVersion)
	require.Len(t, f.Datasources, 1)
	return f.Datasources[0].UID, f.Datasources[0].Type, f.Datasources[0].URL
}

func TestProvisioning(t *testing.T) {
	uid, typ, url := provisionedDatasource(t)
	assert.Equal(t, "phoenix-prometheus", uid)
	assert.Equal(t, "prometheus", typ)
	assert.Equal(t, "${PROMETHEUS_URL}", url, "the Prometheus URL comes from Grafana's environment")

	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), dashProviderFile))
	require.NoError(t, err)
	var f struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &f))
	assert.Equal(t, 1, f.APIVersion)
	require.Len(t, f.Providers, 1)
	assert.Equal(t, "file", f.Providers[0].Type)
	assert.NotEmpty(t, f.Providers[0].Options.Path)
}

func TestDashboardsAreWellFormed(t *testing.T) {
	dsUID, _, _ := provisionedDatasource(t)
	want := datasourceRef{Type: "prometheus", UID: "${datasource}"}
	uids := map[string]string{}
	for _, d := range loadDashboards(t) {
		t.Run(d.file, func(t *testing.T) {
			assert.NotEmpty(t, d.Title)
			require.NotEmpty(t, d.UID)
			assert.Empty(t, uids[d.UID], "uid %s is also %s's", d.UID, uids[d.UID])
			uids[d.UID] = d.file
			assert.GreaterOrEqual(t, d.SchemaVersion, 38, "Grafana 10 or later")

			var dsVars int
			for _, v := range d.Templating.List {
				if v.Type != "datasource" {
					if v.Type == "query" {
						assert.Equal(t, &want, v.Datasource, "variable %s", v.Name)
					}
					continue
				}
				dsVars++
				assert.Equal(t, "datasource", v.Name)
				assert.JSONEq(t, `"prometheus"`, string(v.Query))
				assert.JSONEq(t, strconv.Quote(dsUID), string(v.Current.Value), "defaults to the provisioned datasource")
			}
			assert.Equal(t, 1, dsVars, "one datasource variable")

			ids := map[int]bool{}
			for _, p := range d.allPanels() {
				assert.False(t, ids[p.ID], "panel id %d twice", p.ID)
				ids[p.ID] = true
				assert.Positive(t, p.GridPos.W, "panel %q", p.Title)
				assert.LessOrEqual(t, p.GridPos.X+p.GridPos.W, 24, "panel %q is wider than the dashboard", p.Title)
				if p.Type == "row" {
					continue
				}
				assert.Equal(t, &want, p.Datasource, "panel %q", p.Title)
				require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
				refs := map[string]bool{}
				for _, tg := range p.Targets {
					assert.False(t, refs[tg.RefID], "panel %q: refId %s twice", p.Title, tg.RefID)
					refs[tg.RefID] = true
					assert.Equal(t, &want, tg.Datasource, "panel %q %s", p.Title, tg.RefID)
				}
			}

			qs, err := d.panelQueries()
			require.NoError(t, err)
			for _, q := range qs {
				_, err := metricNames(q.expr)
				assert.NoError(t, err, q.origin)
			}
			vqs, err := d.variableQueries()
			require.NoError(t, err)
			for _, v := range vqs {
				_, err := metricNames(v.selector)
				assert.NoError(t, err, v.origin)
			}
		})
	}
}

func TestExpandSubstitutesOrRefuses(t *testing.T) {
	vals := map[string]string{"instance": ".*", "top": "10", "__rate_interval": "30s"}
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: `rate(x{instance=~"$instance"}[$__rate_interval])`, want: `rate(x{instance=~".*"}[30s])`},
		{in: `topk(${top}, x)`, want: `topk(10, x)`},
		{in: `topk(${top:raw}, x)`, want: `topk(10, x)`},
		{in: `x{host="$host"}`, err: "undefined variables [host]"},
	} {
		got, err := expand(tc.in, vals)
		if tc.err != "" {
			assert.EqualError(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got)
	}
}

// The fleet-cost dashboard prices live figures with the server's built-in
// list prices unless the user changes the variables.
func TestPriceVariablesMatchServerPrices(t *testing.T) {
	models := map[string]apitypes.PriceModel{}
	for _, m := range analysis.DefaultPrices().Models {
		models[m.Name] = m
	}
	nr, gc := models["new_relic"], models["grafana_cloud"]
	require.Equal(t, apitypes.UnitGBIngested, nr.Unit)
	require.Equal(t, apitypes.UnitActiveSeries, gc.Unit)

	for _, d := range loadDashboards(t) {
		if d.UID != "phoenix-fleet-cost" {
			continue
		}
		vals, err := d.values()
		require.NoError(t, err)
		perGB, err := strconv.ParseFloat(vals["gb_price_usd"], 64)
		require.NoError(t, err)
		per1000, err := strconv.ParseFloat(vals["series_price_usd"], 64)
		require.NoError(t, err)
		assert.InDelta(t, nr.PriceUSD/nr.Per, perGB, 1e-9)
		assert.InDelta(t, gc.PriceUSD/gc.Per*1000, per1000, 1e-9)
		return
	}
	t.Fatal("no phoenix-fleet-cost dashboard")
}

var recordName = regexp.MustCompile(`^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$`)

func TestRulesAreNamedAndParse(t *testing.T) {
	for _, r := range loadRules(t) {
		if r.Record != "" {
			assert.Regexp(t, recordName, r.Record, "level:metric:operations")
		}
		names, err := metricNames(r.Expr)
		require.NoError(t, err, r.origin())
		assert.NotEmpty(t, names, r.origin())
	}
}

// promBinaries finds Debian's prometheus and promtool, failing with the
// command that installs them.
func promBinaries(t *testing.T) (prometheus, promtool string) {
	t.Helper()
	paths := make([]string, 2)
	for i, name := range []string{"prometheus", "promtool"} {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("%s is not installed: run `sudo apt-get install -y prometheus` (make test-deps does)", name)
		}
		paths[i] = p
	}
	return paths[0], paths[1]
}

func TestShippedFilesPassPromtool(t *testing.T) {
	_, promtool := promBinaries(t)
	dir := filepath.Join(testenv.RepoRoot(t), prometheusDir)
	for _, args := range [][]string{
		{"check", "rules", "rules/phoenix.rules.yml"},
		// The rules' unit tests: values on synthetic series, when alerts fire.
		{"test", "rules", "rules/phoenix.rules.test.yml"},
		// Also checks the rule files it names. Debian's promtool has no
		// Kubernetes discovery: TestKubernetesConfigLoads checks that file.
		{"check", "config", "prometheus.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "promtool %v:\n%s", args, out)
	}
}

// prometheus-kubernetes.yml loads with Prometheus's own configuration code
// (Kubernetes discovery included) and scrapes what prometheus.yml does.
func TestKubernetesConfigLoads(t *testing.T) {
	dir := filepath.Join(testenv.RepoRoot(t), prometheusDir)
	k8s, err := config.LoadFile(filepath.Join(dir, "prometheus-kubernetes.yml"), false, promslog.NewNopLogger())
	require.NoError(t, err)
	static, err := config.LoadFile(filepath.Join(dir, "prometheus.yml"), false, promslog.NewNopLogger())
	require.NoError(t, err)

	assert.Equal(t, static.RuleFiles, k8s.RuleFiles)
	require.Len(t, k8s.ScrapeConfigs, len(static.ScrapeConfigs))
	for i, sc := range k8s.ScrapeConfigs {
		assert.Equal(t, static.ScrapeConfigs[i].JobName, sc.JobName)
		assert.Len(t, sc.ServiceDiscoveryConfigs, 1, "job %s: one kubernetes_sd_configs", sc.JobName)
		assert.Equal(t, static.ScrapeConfigs[i].MetricRelabelConfigs, sc.MetricRelabelConfigs, "job %s", sc.JobName)
	}
}
