package deployments_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/phoenix/platform/test/testenv"
)

// repoPath joins elems to the repository's root.
func repoPath(tb testing.TB, elems ...string) string {
	tb.Helper()
	return filepath.Join(append([]string{testenv.RepoRoot(tb)}, elems...)...)
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(tb, err)
	return raw
}

// decodeStrict decodes one YAML document as the Kubernetes API server's
// strict decoding does: unknown fields, duplicate fields and fields whose
// case differs from the API's are errors.
func decodeStrict(doc []byte, into any) error {
	js, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strictErrs, err := sigsjson.UnmarshalStrict(js, into, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// splitDocuments returns the non-empty documents of a multi-document YAML
// stream.
func splitDocuments(data []byte) ([][]byte, error) {
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		js, err := sigsyaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if string(bytes.TrimSpace(js)) != "null" { // only comments
			docs = append(docs, doc)
		}
	}
}

// apiTypes are the kinds the deployments may contain, by apiVersion/kind.
// There is deliberately no RBAC kind: neither the server nor the collector
// uses the Kubernetes API, so a Role or binding would be a grant nobody
// needs.
var apiTypes = map[string]func() metav1.Object{
	"v1/Namespace":        func() metav1.Object { return &corev1.Namespace{} },
	"v1/ServiceAccount":   func() metav1.Object { return &corev1.ServiceAccount{} },
	"v1/ConfigMap":        func() metav1.Object { return &corev1.ConfigMap{} },
	"v1/Secret":           func() metav1.Object { return &corev1.Secret{} },
	"v1/Service":          func() metav1.Object { return &corev1.Service{} },
	"apps/v1/Deployment":  func() metav1.Object { return &appsv1.Deployment{} },
	"apps/v1/DaemonSet":   func() metav1.Object { return &appsv1.DaemonSet{} },
	"apps/v1/StatefulSet": func() metav1.Object { return &appsv1.StatefulSet{} },
	"networking.k8s.io/v1/NetworkPolicy": func() metav1.Object {
		return &networkingv1.NetworkPolicy{}
	},
	"policy/v1/PodDisruptionBudget": func() metav1.Object { return &policyv1.PodDisruptionBudget{} },
}

// object is one decoded manifest.
type object struct {
	Kind string
	Obj  metav1.Object
}

func (o object) String() string { return o.Kind + "/" + o.Obj.GetName() }

// decodeManifest decodes one manifest strictly into its API type.
func decodeManifest(doc []byte) (object, error) {
	var tm metav1.TypeMeta
	if err := sigsyaml.Unmarshal(doc, &tm); err != nil {
		return object{}, err
	}
	newObj, ok := apiTypes[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return object{}, fmt.Errorf("apiVersion %q kind %q is not a kind these deployments use", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	if err := decodeStrict(doc, obj); err != nil {
		return object{}, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if obj.GetName() == "" {
		return object{}, fmt.Errorf("%s without metadata.name", tm.Kind)
	}
	return object{Kind: tm.Kind, Obj: obj}, nil
}

// decodeManifests decodes every document of a manifest stream.
func decodeManifests(data []byte) ([]object, error) {
	docs, err := splitDocuments(data)
	if err != nil {
		return nil, err
	}
	objs := make([]object, 0, len(docs))
	for i, doc := range docs {
		o, err := decodeManifest(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

func TestDecodeManifestsIsStrict(t *testing.T) {
	const good = `apiVersion: v1
kind: ConfigMap
metadata:
  name: a
data:
  k: v
`
	tests := []struct {
		name, doc string
		wantErr   string
	}{
		{name: "valid", doc: good},
		{name: "unknown field", doc: good + "extra: 1\n", wantErr: `unknown field "extra"`},
		{name: "misspelt nested field", doc: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  replica: 2\n", wantErr: `unknown field "spec.replica"`},
		{name: "field in the wrong case", doc: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  Name: a\n", wantErr: `unknown field "metadata.Name"`},
		{name: "duplicate key", doc: good + "data:\n  j: w\n", wantErr: `"data" already set`},
		{name: "unused kind", doc: "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: a\n", wantErr: "not a kind these deployments use"},
		{name: "no name", doc: "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", wantErr: "without metadata.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := decodeManifests([]byte(tt.doc))
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Len(t, objs, 1)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
