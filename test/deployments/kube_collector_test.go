package deployments_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
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

	"github.com/phoenix/platform/cli/agentidentity"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/harness"
	"github.com/phoenix/platform/test/testenv"
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

			// The node's agent identity: read by the supervisor from the
			// node's identity directory (checkPhoenixSupervisor), mounted
			// read-only; no secret in the agent container's environment.
			id := resolveFile(t, spec, c, identityDir)
			assert.Equal(t, identityDir, id.HostPath, "the identity is the node's: a replaced pod is the same agent")
			assert.True(t, id.Mount.ReadOnly, "the agent reads its identity; only enrollment writes it")
			for _, e := range c.Env {
				assert.NotEqual(t, apitypes.AgentTokenEnv, e.Name, "the supervisor gives the collector the token from the identity")
				assert.True(t, e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil, "$%s from a Secret", e.Name)
			}
			assert.Empty(t, c.EnvFrom)
			checkEnrollContainer(t, objs, spec, c)

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

// checkEnrollContainer asserts the DaemonSet's init container: `phoenix
// agent enroll` from the phoenix-server image, against the server's API
// Service, with the enrollment token from a Secret only it mounts, writing
// the identity where the agent container reads it, confined like every
// container but running as root without capabilities to write the hostPath.
func checkEnrollContainer(t *testing.T, objs []object, spec corev1.PodSpec, agent corev1.Container) {
	t.Helper()
	serverImage := loadImage(t, imageNamed(t, "phoenix-server"))
	ic := onlyInitContainer(t, spec)
	assert.Equal(t, "enroll", ic.Name)
	assert.Equal(t, "phoenix-server", imageName(ic.Image), "the image holding the phoenix binary")
	require.GreaterOrEqual(t, len(ic.Command), 3)
	assert.Contains(t, serverImage.Installed, ic.Command[0], "the command is in the image")
	assert.Equal(t, "phoenix", serverImage.Installed[ic.Command[0]])
	assert.Equal(t, []string{"agent", "enroll"}, ic.Command[1:3])
	assert.Empty(t, ic.Args)
	flags := enrollFlags(t, append(slices.Clone(ic.Command[3:]), ic.Args...))

	// The server's API through its Service, which the collectors' network
	// policy lets them reach.
	svc := mustLookup[*corev1.Service](t, objs, "phoenix-server")
	var api int32
	for _, p := range svc.Spec.Ports {
		if p.Name == "api" {
			api = p.Port
		}
	}
	require.NotZero(t, api, "the Service has an api port")
	assert.Equal(t, "http://phoenix-server:"+strconv.Itoa(int(api)), flags["--server"], "--server is the REST API, not OpAMP")

	// The enrollment token: a file from the phoenix-enroll-token Secret,
	// which the agent container does not mount.
	require.Contains(t, flags, "--enroll-token-file")
	tok := resolveFile(t, spec, ic, flags["--enroll-token-file"])
	assert.Equal(t, "token", tok.Key)
	assert.True(t, strings.HasPrefix(tok.Secret, "phoenix-enroll-token"), "the token comes from the phoenix-enroll-token Secret, not %q", tok.Secret)
	assert.True(t, tok.Mount.ReadOnly)
	for _, m := range agent.VolumeMounts {
		assert.NotEqual(t, tok.Mount.Name, m.Name, "the agent container never sees the enrollment token")
	}
	for _, e := range ic.Env {
		assert.NotEqual(t, "PHOENIX_ENROLL_TOKEN", e.Name, "the token is read from its file")
	}

	// The identity: written to the node's directory the agent reads.
	assert.Equal(t, identityDir, flags["--dir"])
	id := resolveFile(t, spec, ic, identityDir)
	assert.Equal(t, identityDir, id.HostPath)
	assert.False(t, id.Mount.ReadOnly, "enrollment writes the identity")
	assert.Equal(t, resolveFile(t, spec, agent, identityDir).Mount.Name, id.Mount.Name, "one volume for both containers")
	for _, v := range spec.Volumes {
		if v.Name == id.Mount.Name {
			require.NotNil(t, v.HostPath)
			require.NotNil(t, v.HostPath.Type)
			assert.Equal(t, corev1.HostPathDirectoryOrCreate, *v.HostPath.Type, "a new node gets the directory")
		}
	}

	// The node's name for the server's log, expanded by Kubernetes.
	assert.Equal(t, "$(NODE_NAME)", flags["--host-name"])
	node, _ := envVar(t, ic, "NODE_NAME")
	require.NotNil(t, node.ValueFrom)
	require.NotNil(t, node.ValueFrom.FieldRef)
	assert.Equal(t, "spec.nodeName", node.ValueFrom.FieldRef.FieldPath)

	// Root, to write the kubelet's root-owned hostPath (fsGroup does not
	// apply to hostPath), and nothing else.
	sc := ic.SecurityContext
	require.NotNil(t, sc)
	assert.Equal(t, ptr.To[int64](0), sc.RunAsUser)
	assert.Equal(t, ptr.To(false), sc.Privileged)
	assert.Equal(t, ptr.To(false), sc.AllowPrivilegeEscalation)
	assert.Equal(t, ptr.To(true), sc.ReadOnlyRootFilesystem)
	require.NotNil(t, sc.Capabilities)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	assert.Empty(t, sc.Capabilities.Add, "no capability: root writes only what root owns")
	assert.Nil(t, sc.AppArmorProfile, "the runtime's default AppArmor profile")
}

// enrollFlags parses `phoenix agent enroll`'s flags (--name value pairs).
func enrollFlags(t *testing.T, args []string) map[string]string {
	t.Helper()
	require.Zero(t, len(args)%2, "--flag value pairs: %v", args)
	flags := map[string]string{}
	for i := 0; i < len(args); i += 2 {
		require.True(t, strings.HasPrefix(args[i], "--"), "%q is not a flag", args[i])
		flags[args[i]] = args[i+1]
	}
	return flags
}

// TestEnrollContainerEnrolls runs the DaemonSet's init container's command
// with the built phoenix against a real server, as the kubelet would on a
// node: its server, token file and directory moved to the test's. It enrolls
// the node; run again (a replaced pod), it keeps the same agent.
func TestEnrollContainerEnrolls(t *testing.T) {
	objs := render(t, kubeTree(t), "base")
	ic := onlyInitContainer(t, mustLookup[*appsv1.DaemonSet](t, objs, "phoenix-collector").Spec.Template.Spec)
	srv := harness.StartServer(t, harness.ServerOptions{})
	dir := filepath.Join(t.TempDir(), "agent")
	moved := map[string]string{
		"--server":            srv.API,
		"--enroll-token-file": testenv.WriteFile(t, t.TempDir(), "token", srv.EnrollToken()),
		"--dir":               dir,
		"--host-name":         testNodeName, // $(NODE_NAME), as Kubernetes expands it
	}
	args := slices.Clone(ic.Command[1:])
	for i := 0; i+1 < len(args); i++ {
		if v, ok := moved[args[i]]; ok {
			args[i+1] = v
			delete(moved, args[i])
		}
	}
	require.Empty(t, moved, "flags the init container does not pass")
	run := func() (string, string) {
		t.Helper()
		cmd := exec.Command(testenv.Binary(t, "phoenix"), args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no local server's tokens
		require.NoError(t, cmd.Run(), "%s", stderr.String())
		return strings.TrimSpace(stdout.String()), stderr.String()
	}
	uid, _ := run()
	id, err := agentidentity.Read(dir)
	require.NoError(t, err)
	assert.Equal(t, uid, id.InstanceUID)
	self, err := apiclient.New(srv.API, id.Token).Self(t.Context())
	require.NoError(t, err)
	assert.Equal(t, uid, self.InstanceUID)

	again, stderr := run()
	assert.Equal(t, uid, again, "a replaced pod is the same agent")
	assert.Contains(t, stderr, "already enrolled")
}
