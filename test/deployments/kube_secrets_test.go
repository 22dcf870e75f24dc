package deployments_test

import (
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/test/testenv"
)

// refs are the ConfigMap and Secret keys a rendered deployment uses, by
// object name; an empty key means the whole object (envFrom).
type refs struct {
	configMaps, secrets map[string][]string
}

func collectRefs(objs []object) refs {
	r := refs{configMaps: map[string][]string{}, secrets: map[string][]string{}}
	add := func(m map[string][]string, name, key string) { m[name] = append(m[name], key) }
	addItems := func(m map[string][]string, name string, items []corev1.KeyToPath) {
		if len(items) == 0 {
			add(m, name, "")
		}
		for _, it := range items {
			add(m, name, it.Key)
		}
	}
	for _, w := range workloads(objs) {
		for _, v := range w.Template.Spec.Volumes {
			switch {
			case v.ConfigMap != nil:
				addItems(r.configMaps, v.ConfigMap.Name, v.ConfigMap.Items)
			case v.Secret != nil:
				addItems(r.secrets, v.Secret.SecretName, v.Secret.Items)
			case v.Projected != nil:
				for _, s := range v.Projected.Sources {
					if s.ConfigMap != nil {
						addItems(r.configMaps, s.ConfigMap.Name, s.ConfigMap.Items)
					}
					if s.Secret != nil {
						addItems(r.secrets, s.Secret.Name, s.Secret.Items)
					}
				}
			}
		}
		for _, c := range allContainers(w.Template.Spec) {
			for _, e := range c.EnvFrom {
				if e.ConfigMapRef != nil {
					add(r.configMaps, e.ConfigMapRef.Name, "")
				}
				if e.SecretRef != nil {
					add(r.secrets, e.SecretRef.Name, "")
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					add(r.configMaps, e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Key)
				}
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					add(r.secrets, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
				}
			}
		}
	}
	return r
}

// prodSecrets decodes overlays/prod/secrets.yaml.example strictly: the
// Secrets production must provide.
func prodSecrets(tb testing.TB) map[string]*corev1.Secret {
	tb.Helper()
	objs, err := decodeManifests(readFile(tb, filepath.Join(kubeDir(tb), "overlays", "prod", "secrets.yaml.example")))
	require.NoError(tb, err)
	out := map[string]*corev1.Secret{}
	for _, s := range ofType[*corev1.Secret](objs) {
		assert.Equal(tb, "phoenix", s.Namespace, s.Name)
		assert.Empty(tb, s.Data, "%s: examples hold placeholders in stringData", s.Name)
		out[s.Name] = s
	}
	require.Len(tb, out, len(objs), "the example holds Secrets only")
	return out
}

func TestReferencesResolve(t *testing.T) {
	external := prodSecrets(t)
	for name, objs := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			r := collectRefs(objs)
			for cmName, keys := range r.configMaps {
				cm := mustLookup[*corev1.ConfigMap](t, objs, cmName)
				for _, k := range keys {
					if k != "" {
						assert.Contains(t, cm.Data, k, "ConfigMap %s", cmName)
					}
				}
			}
			for secretName, keys := range r.secrets {
				var have []string
				if s, ok := lookup[*corev1.Secret](objs, secretName); ok {
					have = slices.Collect(maps.Keys(s.Data))
				} else {
					require.NotEqual(t, "overlays/dev", name, "the dev overlay generates every Secret: %s", secretName)
					ext, ok := external[secretName]
					require.True(t, ok, "Secret %s is neither rendered nor in overlays/prod/secrets.yaml.example", secretName)
					have = slices.Collect(maps.Keys(ext.StringData))
				}
				for _, k := range keys {
					if k != "" {
						assert.Contains(t, have, k, "Secret %s", secretName)
					}
				}
			}
			if name != "overlays/dev" {
				assert.ElementsMatch(t, slices.Collect(maps.Keys(external)), slices.Collect(maps.Keys(r.secrets)),
					"secrets.yaml.example lists exactly the Secrets the manifests use")
			}
		})
	}
}

var secretNameRE = regexp.MustCompile(`(?i)(token|password|passwd|secret|key|dsn)$`)

func TestNoInlineSecrets(t *testing.T) {
	for name, objs := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			if name != "overlays/dev" {
				assert.Empty(t, ofType[*corev1.Secret](objs), "Secrets are referenced, never defined, outside dev")
			}
			for _, w := range workloads(objs) {
				for _, c := range allContainers(w.Template.Spec) {
					for _, e := range c.Env {
						if secretNameRE.MatchString(e.Name) {
							assert.Empty(t, e.Value, "%s/%s: $%s is a literal", w.Name, c.Name, e.Name)
						}
					}
					for _, a := range append(slices.Clone(c.Command), c.Args...) {
						assert.NotContains(t, strings.ToLower(a), "password", "%s: arguments are readable in /proc", w.Name)
						assert.NotRegexp(t, `[0-9a-f]{32}`, a, "%s/%s: a token on the command line is readable in /proc", w.Name, c.Name)
					}
				}
			}
		})
	}
}

func TestDevSecrets(t *testing.T) {
	objs := render(t, kubeTree(t), "overlays/dev")
	for _, s := range ofType[*corev1.Secret](objs) {
		for k, v := range s.Data {
			if !strings.HasSuffix(k, ".yaml") { // values, not files: used as they are
				assert.Equal(t, strings.TrimSpace(string(v)), string(v), "%s/%s: no stray whitespace or newline", s.Name, k)
			}
		}
	}
	r := collectRefs(objs)
	var tokens auth.TokensFile
	var enrollToken string
	for secretName := range r.secrets {
		s := mustLookup[*corev1.Secret](t, objs, secretName)
		switch {
		case strings.HasPrefix(secretName, "phoenix-tokens-"):
			p := testenv.WriteFile(t, t.TempDir(), "tokens.yaml", string(s.Data["tokens.yaml"]))
			_, err := auth.LoadFile(p)
			require.NoError(t, err, "the server loads the generated tokens file")
			require.NoError(t, yaml.Unmarshal(s.Data["tokens.yaml"], &tokens))
		case strings.HasPrefix(secretName, "phoenix-enroll-token-"):
			enrollToken = string(s.Data["token"])
		case strings.HasPrefix(secretName, "phoenix-postgres-"):
			svc := mustLookup[*corev1.Service](t, objs, string(s.Data["PGHOST"]))
			assert.Equal(t, string(s.Data["PGPORT"]), strconv.Itoa(int(svc.Spec.Ports[0].Port)))
			assert.NotEmpty(t, s.Data["PGPASSWORD"])
		default:
			t.Errorf("unexpected Secret %s", secretName)
		}
	}
	require.NotEmpty(t, enrollToken)
	var roles []auth.Role
	for _, e := range tokens.Tokens {
		if e.TokenSHA256 == auth.Digest(enrollToken) {
			roles = e.Roles
		}
		assert.NotContains(t, e.Roles, auth.RoleAgent, "%s: agents enroll; no token in the file speaks for them", e.Name)
	}
	assert.Equal(t, []auth.Role{auth.RoleEnroll}, roles, "the enrollment token is in the tokens file with the enroll role only")
}

func TestDevSecretExamples(t *testing.T) {
	dir := filepath.Join(kubeDir(t), "overlays", "dev", "secrets")
	_, err := auth.LoadFile(filepath.Join(dir, "tokens.yaml.example"))
	assert.NoError(t, err, "the tokens example is a valid tokens file")

	token := string(readFile(t, filepath.Join(dir, "enroll.token.example")))
	assert.Regexp(t, `^[0-9a-f]{64}$`, token, "one token, no newline")

	// A secrets directory from before enrollment: the shared agent token,
	// which the server refuses in a tokens file, is replaced.
	generated := t.TempDir()
	testenv.WriteFile(t, generated, "agent.token", token)
	testenv.WriteFile(t, generated, "tokens.yaml", "tokens: []\n")
	testenv.WriteFile(t, generated, "admin.token", token)
	out, err := runScript(t, filepath.Join(kubeDir(t), "overlays", "dev", "make-secrets.sh"), generated)
	require.NoError(t, err, out)
	assert.NoFileExists(t, filepath.Join(generated, "agent.token"), "the retired shared token is removed")
	_, err = auth.LoadFile(filepath.Join(generated, "tokens.yaml"))
	require.NoError(t, err, "the server loads the tokens file")
	assert.Equal(t, envKeys(t, filepath.Join(dir, "postgres.env.example")), envKeys(t, filepath.Join(generated, "postgres.env")))
	for _, f := range []string{"tokens.yaml", "enroll.token", "admin.token", "postgres.env"} {
		st, err := os.Stat(filepath.Join(generated, f))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f)
	}
	before := readFile(t, filepath.Join(generated, "enroll.token"))
	_, err = runScript(t, filepath.Join(kubeDir(t), "overlays", "dev", "make-secrets.sh"), generated)
	require.NoError(t, err)
	assert.Equal(t, before, readFile(t, filepath.Join(generated, "enroll.token")), "a second run keeps the secrets")
}

func envKeys(tb testing.TB, p string) []string {
	tb.Helper()
	var keys []string
	for _, l := range strings.Split(string(readFile(tb, p)), "\n") {
		if k, _, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			keys = append(keys, k)
		}
	}
	return keys
}

func TestProdSecretsExample(t *testing.T) {
	secrets := prodSecrets(t)
	pg := secrets["phoenix-postgres"]
	require.NotNil(t, pg)
	for _, k := range []string{"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSSLMODE"} {
		assert.Contains(t, pg.StringData, k)
	}
	assert.NotEqual(t, "disable", pg.StringData["PGSSLMODE"], "production connects with TLS")
	_, _, err := net.SplitHostPort(pg.StringData["PGHOST"] + ":" + pg.StringData["PGPORT"])
	assert.NoError(t, err)
}
