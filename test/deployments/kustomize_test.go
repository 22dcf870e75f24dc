package deployments_test

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/api/krusty"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomizations are the directories under deployments/kubernetes that
// render a deployment.
var kustomizations = []string{"base", "overlays/dev", "overlays/prod"}

// kubeDir is deployments/kubernetes.
func kubeDir(tb testing.TB) string { return repoPath(tb, "deployments", "kubernetes") }

// kubeTree copies deployments/kubernetes into a temporary directory and
// writes the development overlay's secrets there with make-secrets.sh, as a
// developer does before `kubectl apply -k overlays/dev`.
func kubeTree(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "kubernetes")
	require.NoError(tb, os.CopyFS(dir, os.DirFS(kubeDir(tb))))
	out, err := exec.Command(filepath.Join(dir, "overlays", "dev", "make-secrets.sh"), "--force").CombinedOutput()
	require.NoError(tb, err, "make-secrets.sh: %s", out)
	return dir
}

// render renders one kustomization of tree with kustomize's library and
// decodes every object strictly.
func render(tb testing.TB, tree, name string) []object {
	tb.Helper()
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(tree, name))
	require.NoError(tb, err, "kustomize build %s", name)
	raw, err := resMap.AsYaml()
	require.NoError(tb, err)
	objs, err := decodeManifests(raw)
	require.NoError(tb, err, "rendered %s", name)
	return objs
}

// renderAll renders every kustomization from one tree.
func renderAll(tb testing.TB) map[string][]object {
	tb.Helper()
	tree := kubeTree(tb)
	out := make(map[string][]object, len(kustomizations))
	for _, name := range kustomizations {
		out[name] = render(tb, tree, name)
	}
	return out
}

func TestKustomizationsRender(t *testing.T) {
	for name, objs := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			kinds := map[string]int{}
			for _, o := range objs {
				kinds[o.Kind]++
			}
			want := map[string]int{
				"Namespace": 1, "ServiceAccount": 2, "ConfigMap": 2, "Deployment": 1, "DaemonSet": 1,
				"Service": 1, "PodDisruptionBudget": 1, "NetworkPolicy": 3,
			}
			if name == "overlays/dev" {
				want["Secret"] = 3
				want["StatefulSet"] = 1
				want["Service"]++
				want["NetworkPolicy"]++
			}
			assert.Equal(t, want, kinds)
		})
	}
}

// TestKubectlRendersTheSame renders with the kustomize built into kubectl,
// which operators run, when it is installed: both must agree.
func TestKubectlRendersTheSame(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	tree := kubeTree(t)
	for _, name := range kustomizations {
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command(kubectl, "kustomize", filepath.Join(tree, name)).Output()
			require.NoError(t, err)
			fromKubectl, err := decodeManifests(out)
			require.NoError(t, err)
			// The two order objects differently (kubectl: by kind).
			assert.Equal(t, sortedObjects(render(t, tree, name)), sortedObjects(fromKubectl))
		})
	}
}

func sortedObjects(objs []object) []object {
	sorted := slices.Clone(objs)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].String() < sorted[j].String() })
	return sorted
}

// kustomizationFiles reads every kustomization.yaml strictly and returns the
// files each one uses, relative to deployments/kubernetes, by role.
type kustomizationFiles struct {
	resources, patches, configs, generatedSecrets []string
}

func readKustomizations(t *testing.T) kustomizationFiles {
	t.Helper()
	var files kustomizationFiles
	for _, name := range kustomizations {
		var k kusttypes.Kustomization
		raw := readFile(t, filepath.Join(kubeDir(t), name, "kustomization.yaml"))
		require.NoError(t, decodeStrict(raw, &k), "%s/kustomization.yaml", name)
		rel := func(p string) string { return filepath.Join(name, p) }
		for _, r := range k.Resources {
			if st, err := os.Stat(filepath.Join(kubeDir(t), name, r)); err == nil && st.IsDir() {
				continue // another kustomization, read on its own
			}
			files.resources = append(files.resources, rel(r))
		}
		for _, p := range k.Patches {
			require.NotEmpty(t, p.Path, "%s: inline patches are not checked; use a file", name)
			files.patches = append(files.patches, rel(p.Path))
		}
		for _, g := range k.ConfigMapGenerator {
			require.Empty(t, g.LiteralSources, "%s: configuration belongs in files the tests validate", name)
			for _, f := range append(g.FileSources, g.EnvSources...) {
				files.configs = append(files.configs, rel(sourcePath(f)))
			}
		}
		for _, g := range k.SecretGenerator {
			require.Empty(t, g.LiteralSources, "%s: a literal in a secretGenerator is an inline secret", name)
			for _, f := range append(g.FileSources, g.EnvSources...) {
				files.generatedSecrets = append(files.generatedSecrets, rel(sourcePath(f)))
			}
		}
	}
	return files
}

// sourcePath is the file of a generator source ("key=path" or "path").
func sourcePath(source string) string {
	if _, path, ok := strings.Cut(source, "="); ok {
		return path
	}
	return source
}

// TestEveryKubernetesFileIsChecked classifies every file in
// deployments/kubernetes and checks it by its role; a file nobody checks
// fails the test.
func TestEveryKubernetesFileIsChecked(t *testing.T) {
	files := readKustomizations(t)
	checked := map[string]string{}
	for _, name := range kustomizations {
		checked[filepath.Join(name, "kustomization.yaml")] = "kustomization"
	}
	for _, f := range files.resources {
		_, err := decodeManifests(readFile(t, filepath.Join(kubeDir(t), f)))
		require.NoError(t, err, f)
		checked[f] = "manifests"
	}
	for _, f := range files.patches {
		require.NoError(t, checkPatch(readFile(t, filepath.Join(kubeDir(t), f))), f)
		checked[f] = "patch"
	}
	for _, f := range files.configs {
		checked[f] = "configuration (TestKubernetesConfigFiles)"
	}
	// Generated secrets are git-ignored; each has an example beside it.
	for _, f := range files.generatedSecrets {
		example := f + ".example"
		require.FileExists(t, filepath.Join(kubeDir(t), example), "every generated secret needs an example")
		checked[example] = "secret example (TestDevSecretExamples)"
	}
	checked["overlays/dev/secrets/.gitignore"] = "TestDevSecretsAreIgnored"
	checked["overlays/dev/make-secrets.sh"] = "run by every render"
	checked["overlays/prod/secrets.yaml.example"] = "TestProdSecretsExample"

	var unchecked []string
	require.NoError(t, filepath.WalkDir(kubeDir(t), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(kubeDir(t), path)
		if _, ok := checked[rel]; !ok && !generatedLocally(files, rel) {
			unchecked = append(unchecked, rel)
		}
		return nil
	}))
	sort.Strings(unchecked)
	assert.Empty(t, unchecked, "files in deployments/kubernetes no test checks")
}

// generatedLocally reports a secret make-secrets.sh wrote into the working
// tree: git-ignored, so not part of what is checked.
func generatedLocally(files kustomizationFiles, rel string) bool {
	for _, f := range files.generatedSecrets {
		if rel == f || rel == "overlays/dev/secrets/admin.token" {
			return true
		}
	}
	return false
}

// checkPatch decodes a patch file strictly: a JSON patch (a list of
// operations) or a strategic-merge patch (a partial object of its kind).
func checkPatch(raw []byte) error {
	var ops []struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	if err := decodeStrict(raw, &ops); err == nil {
		for _, op := range ops {
			if op.Op != "add" && op.Op != "replace" && op.Op != "remove" {
				return fmt.Errorf("unsupported JSON patch op %q", op.Op)
			}
			if !strings.HasPrefix(op.Path, "/") {
				return fmt.Errorf("JSON patch path %q is not absolute", op.Path)
			}
		}
		return nil
	}
	_, err := decodeManifests(raw)
	return err
}

func TestDevSecretsAreIgnored(t *testing.T) {
	raw := string(readFile(t, filepath.Join(kubeDir(t), "overlays", "dev", "secrets", ".gitignore")))
	lines := strings.Fields(raw)
	assert.Contains(t, lines, "*", "everything make-secrets.sh writes is ignored")
	assert.Contains(t, lines, "!*.example", "the examples are not")
}

func TestKustomizationsDecodeStrictly(t *testing.T) {
	// A misspelt key in a kustomization must not be silently ignored.
	var k kusttypes.Kustomization
	err := decodeStrict([]byte("resources: [a.yaml]\nimage:\n  - name: x\n"), &k)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "image"`)
}
