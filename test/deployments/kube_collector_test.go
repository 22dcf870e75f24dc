package deployments_test

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// fallbackConfig is the part of a collector configuration the manifests
// must agree with.
type fallbackConfig struct {
	Extensions struct {
		HealthCheck struct {
			Endpoint string `yaml:"endpoint"`
		} `yaml:"health_check"`
	} `yaml:"extensions"`
	Processors struct {
		MemoryLimiter struct {
			LimitMiB int64 `yaml:"limit_mib"`
		} `yaml:"memory_limiter"`
	} `yaml:"processors"`
}

func TestCollectorDaemonSet(t *testing.T) {
	collectorImage := loadImage(t, imageNamed(t, "phoenix-collector"))
	for name, objs := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			ds := mustLookup[*appsv1.DaemonSet](t, objs, "phoenix-collector")
			spec := ds.Spec.Template.Spec
			c := onlyContainer(t, spec)

			assert.True(t, spec.HostPID, "hostPID: the node's processes under their real PIDs")
			assert.False(t, spec.HostNetwork)
			assert.True(t, selects(t, ds.Spec.Selector, ds.Spec.Template.Labels))
			require.NotNil(t, ds.Spec.UpdateStrategy.RollingUpdate)
			assert.Zero(t, ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge.IntValue(),
				"never two supervisors sharing one node's storage")

			// The image's entrypoint (the supervisor) with its configuration.
			assert.Equal(t, "phoenix-collector", imageName(c.Image))
			assert.Empty(t, c.Command, "the image's ENTRYPOINT %v runs", collectorImage.Entrypoint)
			require.Len(t, c.Args, 2)
			assert.Equal(t, "--config", c.Args[0])
			supervisorYAML := configFile(t, objs, spec, c, c.Args[1])
			assert.Equal(t, string(readFile(t, repoPath(t, "deployments", "kubernetes", "base", "config", "supervisor.yaml"))), supervisorYAML)
			sup := loadSupervisor(t, supervisorYAML)
			checkPhoenixSupervisor(t, sup)
			assert.Contains(t, collectorImage.Installed, sup.Agent.Executable, "agent.executable is in the image")

			require.Len(t, sup.Agent.ConfigFiles, 1, "config_files: the health_check fragment only")
			health := checkHealthFragment(t, configFile(t, objs, spec, c, sup.Agent.ConfigFiles[0]))

			fallbackYAML := configFile(t, objs, spec, c, sup.Agent.StartupFallbackConfigs[0])
			var fallback fallbackConfig
			require.NoError(t, yaml.Unmarshal([]byte(fallbackYAML), &fallback))

			storage := resolveFile(t, spec, c, sup.Storage.Directory)
			assert.NotEmpty(t, storage.HostPath, "supervisor storage on the host: one instance UID per node")
			assert.False(t, storage.Mount.ReadOnly)

			// Host identity: the node's name, in the agent's description and
			// in the collector's resource (resource_detection's env detector).
			node, nodeAt := envVar(t, c, "NODE_NAME")
			require.NotNil(t, node.ValueFrom)
			require.NotNil(t, node.ValueFrom.FieldRef)
			assert.Equal(t, "spec.nodeName", node.ValueFrom.FieldRef.FieldPath)
			assert.Equal(t, testNodeName, sup.Agent.Description.NonIdentifyingAttributes["host.name"])
			res, resAt := envVar(t, c, "OTEL_RESOURCE_ATTRIBUTES")
			assert.Contains(t, strings.Split(res.Value, ","), "host.name=$(NODE_NAME)")
			assert.Less(t, nodeAt, resAt, "$(NODE_NAME) expands only when defined earlier")

			// The agent token: from a Secret, never a literal.
			tok, _ := envVar(t, c, apitypes.AgentTokenEnv)
			require.NotNil(t, tok.ValueFrom)
			require.NotNil(t, tok.ValueFrom.SecretKeyRef)
			assert.Empty(t, tok.Value)

			// Probes reach the health_check extension on the pod's address:
			// in the fallback configuration, in every one the server renders,
			// and in the fragment merged into all but the fallback.
			healthPort := namedPort(t, c, "health")
			for _, endpoint := range []string{
				sup.Agent.Description.NonIdentifyingAttributes[apitypes.AgentParamLabelPrefix+"health_check_endpoint"],
				fallback.Extensions.HealthCheck.Endpoint,
				health.Extensions.HealthCheck.Endpoint,
			} {
				host, port, err := net.SplitHostPort(endpoint)
				require.NoError(t, err, endpoint)
				assert.Equal(t, "0.0.0.0", host, "the kubelet probes the pod's address, not 127.0.0.1")
				assert.Equal(t, strconv.Itoa(int(healthPort)), port)
			}
			for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
				require.NotNil(t, p)
				require.NotNil(t, p.HTTPGet)
				assert.Equal(t, "health", p.HTTPGet.Port.String())
				assert.Equal(t, "/", p.HTTPGet.Path)
			}

			// Resources, and memory limits that engage below the container's.
			wantResources := corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
			}
			assert.True(t, equality(wantResources, c.Resources), "resources %v", c.Resources)
			limit := c.Resources.Limits.Memory().Value()
			goMem, _ := envVar(t, c, "GOMEMLIMIT")
			mib, ok := strings.CutSuffix(goMem.Value, "MiB")
			require.True(t, ok, "GOMEMLIMIT %q in MiB", goMem.Value)
			n, err := strconv.ParseInt(mib, 10, 64)
			require.NoError(t, err)
			assert.Less(t, n<<20, limit, "GOMEMLIMIT below the container's limit")
			assert.Positive(t, fallback.Processors.MemoryLimiter.LimitMiB)
			assert.Less(t, fallback.Processors.MemoryLimiter.LimitMiB<<20, limit, "memory_limiter below the container's limit")

			// Least privilege: exactly the two capabilities that read other
			// processes' /proc entries.
			sc := c.SecurityContext
			require.NotNil(t, sc)
			require.NotNil(t, sc.Capabilities)
			assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
			added := slices.Clone(sc.Capabilities.Add)
			slices.Sort(added)
			assert.Equal(t, []corev1.Capability{"DAC_READ_SEARCH", "SYS_PTRACE"}, added)
			assert.Equal(t, ptr.To(false), sc.Privileged)
			assert.Equal(t, ptr.To(false), sc.AllowPrivilegeEscalation)
			assert.Equal(t, ptr.To(true), sc.ReadOnlyRootFilesystem)
			require.NotNil(t, spec.SecurityContext.SeccompProfile)
			assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, spec.SecurityContext.SeccompProfile.Type)

			// No Kubernetes API access.
			assert.Equal(t, ptr.To(false), spec.AutomountServiceAccountToken)
			sa := mustLookup[*corev1.ServiceAccount](t, objs, spec.ServiceAccountName)
			assert.Equal(t, ptr.To(false), sa.AutomountServiceAccountToken)
		})
	}
}

// equality compares resource lists by quantity, not representation.
func equality(want, got corev1.ResourceRequirements) bool {
	same := func(a, b corev1.ResourceList) bool {
		if len(a) != len(b) {
			return false
		}
		for k, q := range a {
			if g, ok := b[k]; !ok || q.Cmp(g) != 0 {
				return false
			}
		}
		return true
	}
	return same(want.Requests, got.Requests) && same(want.Limits, got.Limits)
}

func TestKubernetesConfigFiles(t *testing.T) {
	dir := repoPath(t, "deployments", "kubernetes", "base", "config")
	validateCollectorConfig(t, dir+"/collector.yaml")
	checkHealthFragment(t, string(readFile(t, dir+"/health.yaml")))
	sup := loadSupervisor(t, string(readFile(t, dir+"/supervisor.yaml")))
	checkPhoenixSupervisor(t, sup)
	// The collector checks that root_path exists: on a node /hostfs is the
	// node's root, here a directory stands in for it.
	fallback := string(readFile(t, dir+"/collector.yaml"))
	standIn := strings.ReplaceAll(fallback, "root_path: /hostfs", "root_path: "+t.TempDir())
	require.NotEqual(t, fallback, standIn, "the fallback reads the node under root_path /hostfs")
	validateSupervisor(t, sup, standIn)
	cfg := loadServerConfig(t, readFile(t, dir+"/server.yaml"))
	assert.True(t, strings.HasPrefix(cfg.Store, "postgres://"), "the Deployment's replicas share PostgreSQL")
}
