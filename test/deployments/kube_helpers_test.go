package deployments_test

import (
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// lookup returns the object of type T named name, or nil.
func lookup[T metav1.Object](objs []object, name string) (T, bool) {
	for _, o := range objs {
		if t, ok := o.Obj.(T); ok && o.Obj.GetName() == name {
			return t, true
		}
	}
	var zero T
	return zero, false
}

// mustLookup is lookup that fails the test.
func mustLookup[T metav1.Object](tb testing.TB, objs []object, name string) T {
	tb.Helper()
	t, ok := lookup[T](objs, name)
	require.True(tb, ok, "%T %q is not in the rendered output", t, name)
	return t
}

// ofType returns every object of type T.
func ofType[T metav1.Object](objs []object) []T {
	var out []T
	for _, o := range objs {
		if t, ok := o.Obj.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// workload is a pod template with what owns it.
type workload struct {
	Name     string
	Selector *metav1.LabelSelector
	Template corev1.PodTemplateSpec
}

func workloads(objs []object) []workload {
	var out []workload
	for _, d := range ofType[*appsv1.Deployment](objs) {
		out = append(out, workload{d.Name, d.Spec.Selector, d.Spec.Template})
	}
	for _, d := range ofType[*appsv1.DaemonSet](objs) {
		out = append(out, workload{d.Name, d.Spec.Selector, d.Spec.Template})
	}
	for _, s := range ofType[*appsv1.StatefulSet](objs) {
		out = append(out, workload{s.Name, s.Spec.Selector, s.Spec.Template})
	}
	return out
}

// selects reports whether a label selector matches a set of labels.
func selects(tb testing.TB, sel *metav1.LabelSelector, lbls map[string]string) bool {
	tb.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	require.NoError(tb, err)
	return s.Matches(labels.Set(lbls))
}

// onlyContainer returns a pod's single container (init containers aside).
func onlyContainer(tb testing.TB, spec corev1.PodSpec) corev1.Container {
	tb.Helper()
	require.Len(tb, spec.Containers, 1)
	return spec.Containers[0]
}

// onlyInitContainer returns a pod's single init container.
func onlyInitContainer(tb testing.TB, spec corev1.PodSpec) corev1.Container {
	tb.Helper()
	require.Len(tb, spec.InitContainers, 1)
	return spec.InitContainers[0]
}

// allContainers returns a pod's init containers and containers.
func allContainers(spec corev1.PodSpec) []corev1.Container {
	return append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
}

// fileSource says where a file a container reads comes from.
type fileSource struct {
	Mount     corev1.VolumeMount
	ConfigMap string // ConfigMap name, with Key
	Secret    string // Secret name, with Key
	Key       string
	HostPath  string // host path of the file or directory
}

// resolveFile finds the volume that provides the file or directory at p in
// container c of spec.
func resolveFile(tb testing.TB, spec corev1.PodSpec, c corev1.Container, p string) fileSource {
	tb.Helper()
	var best *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if (p == m.MountPath || strings.HasPrefix(p, m.MountPath+"/")) && (best == nil || len(m.MountPath) > len(best.MountPath)) {
			best = &c.VolumeMounts[i]
		}
	}
	require.NotNil(tb, best, "container %s mounts nothing at %s", c.Name, p)
	require.Empty(tb, best.SubPath, "subPath mounts never see updates")
	rel := strings.TrimPrefix(strings.TrimPrefix(p, best.MountPath), "/")
	for _, v := range spec.Volumes {
		if v.Name != best.Name {
			continue
		}
		src := fileSource{Mount: *best}
		switch {
		case v.HostPath != nil:
			src.HostPath = path.Join(v.HostPath.Path, rel)
		case v.ConfigMap != nil:
			src.ConfigMap, src.Key = v.ConfigMap.Name, itemKey(v.ConfigMap.Items, rel)
		case v.Secret != nil:
			src.Secret, src.Key = v.Secret.SecretName, itemKey(v.Secret.Items, rel)
		case v.Projected != nil:
			for _, ps := range v.Projected.Sources {
				switch {
				case ps.ConfigMap != nil && projects(ps.ConfigMap.Items, rel):
					src.ConfigMap, src.Key = ps.ConfigMap.Name, itemKey(ps.ConfigMap.Items, rel)
				case ps.Secret != nil && projects(ps.Secret.Items, rel):
					src.Secret, src.Key = ps.Secret.Name, itemKey(ps.Secret.Items, rel)
				}
			}
		}
		return src
	}
	tb.Fatalf("volume %q of mount %s is not defined", best.Name, best.MountPath)
	return fileSource{}
}

// itemKey maps a file name in a ConfigMap or Secret volume to its key.
func itemKey(items []corev1.KeyToPath, rel string) string {
	for _, it := range items {
		if it.Path == rel {
			return it.Key
		}
	}
	return rel
}

func projects(items []corev1.KeyToPath, rel string) bool {
	for _, it := range items {
		if it.Path == rel {
			return true
		}
	}
	return false
}

// configFile returns the content of the file at p in container c, which must
// come from a rendered ConfigMap.
func configFile(tb testing.TB, objs []object, spec corev1.PodSpec, c corev1.Container, p string) string {
	tb.Helper()
	src := resolveFile(tb, spec, c, p)
	require.NotEmpty(tb, src.ConfigMap, "%s must come from a ConfigMap", p)
	cm := mustLookup[*corev1.ConfigMap](tb, objs, src.ConfigMap)
	content, ok := cm.Data[src.Key]
	require.True(tb, ok, "ConfigMap %s has no key %s", cm.Name, src.Key)
	return content
}

// envVar returns container c's variable name and its position.
func envVar(tb testing.TB, c corev1.Container, name string) (corev1.EnvVar, int) {
	tb.Helper()
	for i, e := range c.Env {
		if e.Name == name {
			return e, i
		}
	}
	tb.Fatalf("container %s does not set %s", c.Name, name)
	return corev1.EnvVar{}, -1
}

// namedPort returns the container port named name.
func namedPort(tb testing.TB, c corev1.Container, name string) int32 {
	tb.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	tb.Fatalf("container %s has no port named %s", c.Name, name)
	return 0
}

// imageName strips registry, repository path, tag and digest: the name the
// Dockerfile's image title gives.
func imageName(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	base := path.Base(ref)
	name, _, _ := strings.Cut(base, ":")
	return name
}

func imageTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	_, tag, _ := strings.Cut(path.Base(ref), ":")
	return tag
}
