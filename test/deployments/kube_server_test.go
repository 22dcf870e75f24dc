package deployments_test

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/phoenix/platform/opamp-server/controlplane"
)

func TestServerDeployment(t *testing.T) {
	serverImage := loadImage(t, imageNamed(t, "phoenix-server"))
	uid, _, _ := strings.Cut(serverImage.User, ":")
	for name, objs := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			d := mustLookup[*appsv1.Deployment](t, objs, "phoenix-server")
			spec := d.Spec.Template.Spec
			c := onlyContainer(t, spec)
			assert.Empty(t, spec.InitContainers)

			assert.Equal(t, ptr.To[int32](2), d.Spec.Replicas)
			assert.True(t, selects(t, d.Spec.Selector, d.Spec.Template.Labels))
			pdb := mustLookup[*policyv1.PodDisruptionBudget](t, objs, "phoenix-server")
			assert.True(t, selects(t, pdb.Spec.Selector, d.Spec.Template.Labels))

			// The image's entrypoint with the mounted configuration.
			assert.Equal(t, "phoenix-server", imageName(c.Image))
			assert.Empty(t, c.Command, "the image's ENTRYPOINT %v runs", serverImage.Entrypoint)
			require.GreaterOrEqual(t, len(c.Args), 2)
			assert.Equal(t, "--config", c.Args[0])
			cfg := loadServerConfig(t, []byte(configFile(t, objs, spec, c, c.Args[1])))

			// Store: PostgreSQL, its settings from a Secret in the environment.
			assert.True(t, strings.HasPrefix(cfg.Store, "postgres://"), "replicas share PostgreSQL")
			dsn, err := url.Parse(cfg.Store)
			require.NoError(t, err)
			_, hasPassword := dsn.User.Password()
			assert.False(t, hasPassword, "no password in the configuration")
			require.Len(t, c.EnvFrom, 1)
			require.NotNil(t, c.EnvFrom[0].SecretRef, "libpq settings come from a Secret")

			// Tokens: the file is a Secret's.
			tokens := resolveFile(t, spec, c, cfg.TokensFile)
			assert.NotEmpty(t, tokens.Secret, "tokens_file comes from a Secret")
			assert.Equal(t, "tokens.yaml", tokens.Key)
			assert.False(t, cfg.NoAuth)

			// Listeners, container ports and the Service agree; so do the
			// URLs collectors are given.
			svc := mustLookup[*corev1.Service](t, objs, "phoenix-server")
			assert.True(t, selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, d.Spec.Template.Labels))
			ports := map[string]int32{}
			for listen, portName := range map[string]string{cfg.OpAMPListen: "opamp", cfg.APIListen: "api"} {
				_, port, err := net.SplitHostPort(listen)
				require.NoError(t, err)
				assert.Equal(t, port, strconv.Itoa(int(namedPort(t, c, portName))), "%s listener", portName)
				for _, sp := range svc.Spec.Ports {
					if sp.Name == portName {
						assert.Equal(t, portName, sp.TargetPort.String())
						ports[portName] = sp.Port
					}
				}
				require.Contains(t, ports, portName, "the Service exposes %s", portName)
			}
			assert.Equal(t, "http://"+svc.Name+":"+strconv.Itoa(int(ports["api"])), cfg.PublicURL,
				"collectors push their own telemetry through the Service")
			ds := mustLookup[*appsv1.DaemonSet](t, objs, "phoenix-collector")
			dsc := onlyContainer(t, ds.Spec.Template.Spec)
			sup := loadSupervisor(t, configFile(t, objs, ds.Spec.Template.Spec, dsc, dsc.Args[1]))
			assert.Equal(t, "ws://"+svc.Name+":"+strconv.Itoa(int(ports["opamp"]))+controlplane.OpAMPPath, sup.Server.Endpoint)

			// Probes.
			require.NotNil(t, c.LivenessProbe)
			require.NotNil(t, c.ReadinessProbe)
			for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
				require.NotNil(t, probe.HTTPGet)
				assert.Equal(t, path, probe.HTTPGet.Path)
				assert.Equal(t, "api", probe.HTTPGet.Port.String())
			}

			// Non-root, read-only, no capabilities, bounded resources.
			psc := spec.SecurityContext
			require.NotNil(t, psc)
			assert.Equal(t, ptr.To(true), psc.RunAsNonRoot)
			require.NotNil(t, psc.RunAsUser)
			assert.Equal(t, uid, strconv.Itoa(int(*psc.RunAsUser)), "the image's USER")
			sc := c.SecurityContext
			require.NotNil(t, sc)
			assert.Equal(t, ptr.To(true), sc.ReadOnlyRootFilesystem)
			assert.Equal(t, ptr.To(false), sc.AllowPrivilegeEscalation)
			require.NotNil(t, sc.Capabilities)
			assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
			assert.Empty(t, sc.Capabilities.Add)
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				assert.Contains(t, c.Resources.Requests, r)
				assert.Contains(t, c.Resources.Limits, r)
			}
			assert.Equal(t, ptr.To(false), spec.AutomountServiceAccountToken)
			sa := mustLookup[*corev1.ServiceAccount](t, objs, spec.ServiceAccountName)
			assert.Equal(t, ptr.To(false), sa.AutomountServiceAccountToken)
		})
	}
}

func TestWorkloadsAreNamespacedAndLabelled(t *testing.T) {
	for name, objs := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			ns := mustLookup[*corev1.Namespace](t, objs, "phoenix")
			// The collector's hostPID and hostPath need the privileged level.
			assert.Equal(t, "privileged", ns.Labels["pod-security.kubernetes.io/enforce"])
			for _, o := range objs {
				if o.Kind != "Namespace" {
					assert.Equal(t, "phoenix", o.Obj.GetNamespace(), "%s", o)
				}
				assert.Equal(t, "phoenix", o.Obj.GetLabels()["app.kubernetes.io/part-of"], "%s", o)
			}
		})
	}
}

// TestEveryContainerIsConfined holds every workload to the restrictions the
// collector's two capabilities are the documented exception to.
func TestEveryContainerIsConfined(t *testing.T) {
	for name, objs := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			for _, w := range workloads(objs) {
				spec := w.Template.Spec
				assert.Equal(t, ptr.To(false), spec.AutomountServiceAccountToken, "%s: no API token", w.Name)
				assert.False(t, spec.HostNetwork, w.Name)
				assert.False(t, spec.HostIPC, w.Name)
				require.NotNil(t, spec.SecurityContext, w.Name)
				require.NotNil(t, spec.SecurityContext.SeccompProfile, w.Name)
				assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, spec.SecurityContext.SeccompProfile.Type, w.Name)
				for _, c := range allContainers(spec) {
					sc := c.SecurityContext
					require.NotNil(t, sc, "%s/%s", w.Name, c.Name)
					assert.Equal(t, ptr.To(false), sc.AllowPrivilegeEscalation, "%s/%s", w.Name, c.Name)
					assert.Equal(t, ptr.To(true), sc.ReadOnlyRootFilesystem, "%s/%s", w.Name, c.Name)
					require.NotNil(t, sc.Capabilities, "%s/%s", w.Name, c.Name)
					assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, "%s/%s", w.Name, c.Name)
					if w.Name != "phoenix-collector" {
						assert.Empty(t, sc.Capabilities.Add, "%s/%s", w.Name, c.Name)
						assert.False(t, spec.HostPID, w.Name)
					}
					for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
						assert.Contains(t, c.Resources.Requests, r, "%s/%s requests", w.Name, c.Name)
						assert.Contains(t, c.Resources.Limits, r, "%s/%s limits", w.Name, c.Name)
					}
					if !slices.ContainsFunc(spec.InitContainers, func(i corev1.Container) bool { return i.Name == c.Name }) {
						assert.NotNil(t, c.LivenessProbe, "%s/%s", w.Name, c.Name)
						assert.NotNil(t, c.ReadinessProbe, "%s/%s", w.Name, c.Name)
					}
				}
			}
		})
	}
}

func TestImagesPerOverlay(t *testing.T) {
	rendered := renderAll(t)
	for name, objs := range rendered {
		t.Run(name, func(t *testing.T) {
			for _, w := range workloads(objs) {
				for _, c := range allContainers(w.Template.Spec) {
					if imageName(c.Image) == "postgres" {
						continue
					}
					assert.Contains(t, []string{"phoenix-server", "phoenix-collector"}, imageName(c.Image), "%s", w.Name)
					switch name {
					case "base":
						assert.Empty(t, imageTag(c.Image), "the base leaves tags to overlays")
					case "overlays/dev":
						assert.Equal(t, "dev", imageTag(c.Image))
						assert.Equal(t, corev1.PullIfNotPresent, c.ImagePullPolicy, "locally loaded images")
					case "overlays/prod":
						assert.NotContains(t, []string{"", "latest", "dev"}, imageTag(c.Image), "prod pins a release")
						assert.Contains(t, c.Image, "/", "prod pulls from a registry")
					}
				}
			}
		})
	}
}
