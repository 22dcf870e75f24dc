package deployments_test

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution"
)

// renderedTelemetry is what a deployment needs of a rendered configuration:
// the host root of each host_metrics receiver and the own-metrics readers.
type renderedTelemetry struct {
	Receivers map[string]struct {
		RootPath *string `yaml:"root_path"`
	} `yaml:"receivers"`
	Service struct {
		Telemetry struct {
			Metrics struct {
				Readers []struct {
					Periodic *struct {
						Exporter struct {
							OTLP *struct {
								Endpoint string `yaml:"endpoint"`
							} `yaml:"otlp"`
						} `yaml:"exporter"`
					} `yaml:"periodic"`
					Pull *struct {
						Exporter struct {
							Prometheus *struct {
								Host string `yaml:"host"`
								Port int    `yaml:"port"`
							} `yaml:"prometheus"`
						} `yaml:"exporter"`
					} `yaml:"pull"`
				} `yaml:"readers"`
			} `yaml:"metrics"`
		} `yaml:"telemetry"`
	} `yaml:"service"`
}

// agentParams are the parameters the server gives every configuration it
// renders for an agent with these labels: its own (server.agentParams) and
// each phoenix.param.NAME label.
func agentParams(labels map[string]string) map[string]any {
	params := map[string]any{
		"instance_id":         "0190f5c2-7f3a-7c1e-9a55-2b1f3c4d5e6f",
		"telemetry_endpoint":  "http://phoenix-server:8080/v1/metrics",
		"telemetry_token_env": apitypes.AgentTokenEnv,
	}
	for k, v := range labels {
		if name, ok := strings.CutPrefix(k, apitypes.AgentParamLabelPrefix); ok {
			params[name] = v
		}
	}
	return params
}

// renderForAgent renders every catalog pipeline, system metrics on, as the
// server would for an agent with these labels; rendering validates each with
// the distribution's factories.
func renderForAgent(t *testing.T, labels map[string]string) map[string]renderedTelemetry {
	t.Helper()
	c, err := catalog.Load(distribution.ValidateYAML)
	require.NoError(t, err)
	out := map[string]renderedTelemetry{}
	for _, p := range c.List() {
		params := agentParams(labels)
		params["system_metrics"] = true
		r, err := c.Render(t.Context(), p.Name, params)
		require.NoError(t, err, "pipeline %s for labels %v", p.Name, labels)
		var cfg renderedTelemetry
		require.NoError(t, yaml.Unmarshal(r.Config, &cfg))
		out[p.Name] = cfg
	}
	return out
}

// checkRendered asserts both host_metrics receivers read the host under
// root ("" for none) and that the readers are the push to the server plus a
// pull endpoint on pullPort.
func checkRendered(t *testing.T, configs map[string]renderedTelemetry, root string, pullHost string, pullPort int) {
	t.Helper()
	for name, cfg := range configs {
		for _, id := range []string{"host_metrics/process", "host_metrics/system"} {
			rcv, ok := cfg.Receivers[id]
			require.True(t, ok, "%s has no %s", name, id)
			if root == "" {
				assert.Nil(t, rcv.RootPath, "%s %s: a VM reads its own root", name, id)
			} else if assert.NotNil(t, rcv.RootPath, "%s %s: no root_path", name, id) {
				assert.Equal(t, root, *rcv.RootPath, "%s %s", name, id)
			}
		}
		readers := cfg.Service.Telemetry.Metrics.Readers
		require.Len(t, readers, 2, "%s: the push to the server and the pull endpoint", name)
		require.NotNil(t, readers[0].Periodic, "%s: first reader pushes", name)
		require.NotNil(t, readers[0].Periodic.Exporter.OTLP)
		assert.Equal(t, "http://phoenix-server:8080/v1/metrics", readers[0].Periodic.Exporter.OTLP.Endpoint)
		require.NotNil(t, readers[1].Pull, "%s: second reader is pulled", name)
		prom := readers[1].Pull.Exporter.Prometheus
		require.NotNil(t, prom)
		assert.Equal(t, pullHost, prom.Host, name)
		assert.Equal(t, pullPort, prom.Port, name)
	}
}

func TestDaemonSetRenderings(t *testing.T) {
	for name, objs := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			ds := mustLookup[*appsv1.DaemonSet](t, objs, "phoenix-collector")
			spec := ds.Spec.Template.Spec
			c := onlyContainer(t, spec)
			sup := loadSupervisor(t, configFile(t, objs, spec, c, c.Args[1]))
			labels := sup.Agent.Description.NonIdentifyingAttributes

			// The root is the node's "/", mounted read-only where root_path
			// says, with the node's later mounts propagated.
			root := labels[apitypes.AgentParamLabelPrefix+"root_path"]
			require.NotEmpty(t, root, "the DaemonSet's agents set phoenix.param.root_path")
			src := resolveFile(t, spec, c, root)
			assert.Equal(t, "/", src.HostPath, "root_path is the node's root")
			assert.Equal(t, root, src.Mount.MountPath)
			assert.True(t, src.Mount.ReadOnly, "the node's root is read-only")
			require.NotNil(t, src.Mount.MountPropagation)
			assert.Equal(t, "HostToContainer", string(*src.Mount.MountPropagation))
			// root_path derives HOST_PROC and its siblings; a variable set in
			// the environment would win over it.
			for _, e := range c.Env {
				assert.False(t, strings.HasPrefix(e.Name, "HOST_"), "%s overrides root_path", e.Name)
			}

			endpoint := labels[apitypes.AgentParamLabelPrefix+"telemetry_prometheus_endpoint"]
			host, port, err := net.SplitHostPort(endpoint)
			require.NoError(t, err, "phoenix.param.telemetry_prometheus_endpoint %q", endpoint)
			assert.Equal(t, "0.0.0.0", host, "Prometheus scrapes the pod's address")
			assert.Equal(t, strconv.Itoa(int(namedPort(t, c, "telemetry"))), port,
				"the pull endpoint is the pod's port named telemetry, which prometheus-kubernetes.yml keeps")

			checkRendered(t, renderForAgent(t, labels), root, host, int(namedPort(t, c, "telemetry")))

			// The fallback configuration reads the same root and serves the
			// same endpoint.
			var fallback renderedTelemetry
			require.NoError(t, yaml.Unmarshal([]byte(configFile(t, objs, spec, c, sup.Agent.StartupFallbackConfigs[0])), &fallback))
			for id, rcv := range fallback.Receivers {
				if strings.HasPrefix(id, "host_metrics") && assert.NotNil(t, rcv.RootPath, id) {
					assert.Equal(t, root, *rcv.RootPath, "fallback %s", id)
				}
			}
			readers := fallback.Service.Telemetry.Metrics.Readers
			require.Len(t, readers, 1)
			require.NotNil(t, readers[0].Pull)
			assert.Equal(t, int(namedPort(t, c, "telemetry")), readers[0].Pull.Exporter.Prometheus.Port)
		})
	}
}

func TestSystemdRenderings(t *testing.T) {
	sup := loadSupervisor(t, string(readFile(t, repoPath(t, "deployments", "systemd", "supervisor.yaml"))))
	labels := sup.Agent.Description.NonIdentifyingAttributes
	_, hasRoot := labels[apitypes.AgentParamLabelPrefix+"root_path"]
	assert.False(t, hasRoot, "a VM's collector sees the host's root itself")
	endpoint := labels[apitypes.AgentParamLabelPrefix+"telemetry_prometheus_endpoint"]
	host, port, err := net.SplitHostPort(endpoint)
	require.NoError(t, err, "phoenix.param.telemetry_prometheus_endpoint %q", endpoint)
	assert.Equal(t, "8888", port, "the port deployments/prometheus/prometheus.yml scrapes")
	checkRendered(t, renderForAgent(t, labels), "", host, 8888)
}

// Without the labels a rendering has neither: both are opt-in parameters.
func TestRenderingDefaultsHaveNoRootNorPull(t *testing.T) {
	for name, cfg := range renderForAgent(t, nil) {
		assert.Len(t, cfg.Service.Telemetry.Metrics.Readers, 1, "%s: the push only", name)
		for id, rcv := range cfg.Receivers {
			assert.Nil(t, rcv.RootPath, "%s %s", name, id)
		}
	}
}
