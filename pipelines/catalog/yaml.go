package catalog // import "github.com/phoenix/platform/pipelines/catalog"

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// mappingNode builds a YAML mapping that keeps insertion order.
type mappingNode struct{ *yaml.Node }

func mapping() mappingNode {
	return mappingNode{&yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}}
}

func (m mappingNode) put(key string, value any) {
	var v *yaml.Node
	switch x := value.(type) {
	case *yaml.Node:
		v = x
	case mappingNode:
		v = x.Node
	}
	m.Content = append(m.Content, scalar(key), v)
}

func scalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func sequence(items []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, s := range items {
		n.Content = append(n.Content, scalar(s))
	}
	return n
}

// keys lists a mapping's keys in order.
func keys(m *yaml.Node) []string {
	out := make([]string, 0, len(m.Content)/2)
	for i := 0; i < len(m.Content); i += 2 {
		out = append(out, m.Content[i].Value)
	}
	return out
}

// encode writes the tree as normalised YAML: block style throughout, two
// spaces of indentation, no comments, strings quoted only where YAML needs
// it to keep them strings. Equal trees give equal bytes.
func encode(root *yaml.Node) ([]byte, error) {
	if err := normalise(root, ""); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// normalise resets styles and comments in place and refuses duplicate keys,
// which the collector would refuse later with less context.
func normalise(n *yaml.Node, path string) error {
	n.Style = 0
	n.HeadComment, n.LineComment, n.FootComment, n.Anchor = "", "", "", ""
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if seen[key] {
				return fmt.Errorf("duplicate key %q in %s", key, orRoot(path))
			}
			seen[key] = true
			if err := normalise(n.Content[i], path); err != nil {
				return err
			}
			if err := normalise(n.Content[i+1], join(path, key)); err != nil {
				return err
			}
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for i, c := range n.Content {
			if err := normalise(c, join(path, fmt.Sprint(i))); err != nil {
				return err
			}
		}
	case yaml.AliasNode:
		return fmt.Errorf("alias in %s: templates must not use anchors", orRoot(path))
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "::" + key
}

func orRoot(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}
