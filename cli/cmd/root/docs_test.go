package root

// Tests that keep the documentation true, without running anything: every
// phoenix command line in a code block of README.md and docs/*.md resolves
// to a real command whose flags exist and whose values parse; every
// `make <target>` named exists in the Makefile; every relative link points
// at a file that exists, and every #anchor at a heading; every YAML example
// parses, and the complete experiment specs and collector configurations
// among them are valid.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/opamp-server/experiments"
	"github.com/phoenix/platform/pipelines/distribution"
)

// repoRoot is the repository's top directory: this package is cli/cmd/root.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	require.NoError(t, err)
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	require.Contains(t, string(mod), "module github.com/phoenix/platform\n")
	return root
}

// docFiles are the documents checked: the README and every docs/*.md.
func docFiles(t *testing.T, root string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	require.Greater(t, len(files), 1, "docs/*.md found nothing")
	return files
}

type doc struct {
	path, rel string
	md        markdown
}

func readDocs(t *testing.T, root string) []doc {
	t.Helper()
	var docs []doc
	for _, f := range docFiles(t, root) {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		rel, err := filepath.Rel(root, f)
		require.NoError(t, err)
		docs = append(docs, doc{path: f, rel: rel, md: parseMarkdown(string(raw))})
	}
	return docs
}

// checkPhoenixCommand resolves a phoenix command line (without "phoenix")
// as the real command tree would run it, short of running it: the
// subcommand path, every flag with its value, the positional arguments
// and required flags.
func checkPhoenixCommand(args []string) error {
	ios, _, _ := cmdutil.Test()
	root := NewCmd(ios)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	cmd.InitDefaultHelpFlag()
	if err := cmd.ParseFlags(rest); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	positional := cmd.Flags().Args()
	if help, _ := cmd.Flags().GetBool("help"); help {
		return nil
	}
	if !cmd.Runnable() {
		// A command group alone prints its help; anything after it must
		// have been a subcommand.
		if len(positional) > 0 {
			return fmt.Errorf("%q is not a command of %q", positional[0], cmd.CommandPath())
		}
		return nil
	}
	if err := cmd.ValidateArgs(positional); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	return cmd.ValidateFlagGroups()
}

// docCommands returns every simple command of a document's shell code
// blocks, and the lines that could not be split.
func docCommands(md markdown) ([]shellCommand, []error) {
	var cmds []shellCommand
	var errs []error
	for _, b := range md.blocks {
		c, e := shellCommands(b)
		cmds = append(cmds, c...)
		errs = append(errs, e...)
	}
	return cmds, errs
}

func TestDocsPhoenixCommandsExist(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	checked := 0
	for _, d := range readDocs(t, root) {
		cmds, errs := docCommands(d.md)
		for _, err := range errs {
			t.Errorf("%s: %v", d.rel, err)
		}
		for _, c := range cmds {
			if commandName(c.words) != "phoenix" {
				continue
			}
			checked++
			if err := checkPhoenixCommand(c.words[1:]); err != nil {
				t.Errorf("%s:%d: %s\n    %v", d.rel, c.line, c.text, err)
			}
		}
	}
	assert.Greater(t, checked, 20, "the docs show phoenix commands; finding few means the extraction is broken")
}

// makeTargets lists the targets a Makefile defines.
func makeTargets(makefile string) []string {
	ruleRE := regexp.MustCompile(`^([A-Za-z0-9_./%-][A-Za-z0-9_./% -]*?)\s*::?(?:[^=]|$)`)
	var targets []string
	for _, line := range strings.Split(makefile, "\n") {
		m := ruleRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, target := range strings.Fields(m[1]) {
			if !strings.HasPrefix(target, ".") && !slices.Contains(targets, target) {
				targets = append(targets, target)
			}
		}
	}
	return targets
}

// makeGoals returns the targets a make command line asks for.
func makeGoals(words []string) []string {
	var goals []string
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case slices.Contains([]string{"-C", "-f", "-j", "-I", "-o", "-W"}, w):
			i++ // the option's value
		case strings.HasPrefix(w, "-") || strings.Contains(w, "="):
		default:
			goals = append(goals, w)
		}
	}
	return goals
}

// inlineCode returns a line with its code spans replaced by "code", and
// the spans' contents.
func inlineCode(line string) (string, []string) {
	var out strings.Builder
	var spans []string
	for i := 0; i < len(line); {
		if line[i] != '`' {
			out.WriteByte(line[i])
			i++
			continue
		}
		n := 0
		for i+n < len(line) && line[i+n] == '`' {
			n++
		}
		ticks := strings.Repeat("`", n)
		end := strings.Index(line[i+n:], ticks)
		if end < 0 {
			out.WriteString(line[i:])
			break
		}
		spans = append(spans, strings.TrimSpace(line[i+n:i+n+end]))
		out.WriteString("code")
		i += n + end + n
	}
	return out.String(), spans
}

func TestDocsMakeTargetsExist(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	targets := makeTargets(string(makefile))
	require.Contains(t, targets, "demo", "the Makefile's targets were not found")
	checked := 0
	check := func(where string, words []string) {
		for _, goal := range makeGoals(words) {
			checked++
			if !slices.Contains(targets, goal) {
				t.Errorf("%s: make %s: the Makefile has no target %q (targets: %s)", where, goal, goal, strings.Join(targets, ", "))
			}
		}
	}
	for _, d := range readDocs(t, root) {
		cmds, _ := docCommands(d.md)
		for _, c := range cmds {
			if commandName(c.words) == "make" {
				check(fmt.Sprintf("%s:%d", d.rel, c.line), c.words)
			}
		}
		for _, p := range d.md.prose {
			_, spans := inlineCode(p.text)
			for _, span := range spans {
				if !strings.HasPrefix(span, "make ") {
					continue
				}
				if cmds, _, _, err := splitShell(span); err == nil && len(cmds) > 0 {
					check(fmt.Sprintf("%s:%d", d.rel, p.line), cmds[0])
				}
			}
		}
	}
	assert.Greater(t, checked, 3, "the docs name make targets; finding few means the extraction is broken")
}

// slug is the anchor GitHub gives a heading (see
// opamp-server/api/internal/apidoc, which writes links the same way).
func slug(heading string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(c) || unicode.IsDigit(c) || c == '-' || c == '_':
			b.WriteRune(c)
		case c == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

var (
	headingRE   = regexp.MustCompile(`^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$`)
	linkTextRE  = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlIDRE    = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
	inlineRE    = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	referenceRE = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]*)>?`)
	schemeRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

// anchors lists a document's heading anchors as GitHub makes them, with
// -1, -2, … for repeated headings, and explicit <a id="…"> anchors.
func anchors(md markdown) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, p := range md.prose {
		for _, m := range htmlIDRE.FindAllStringSubmatch(p.text, -1) {
			out[m[1]] = true
		}
		m := headingRE.FindStringSubmatch(p.text)
		if m == nil {
			continue
		}
		text := linkTextRE.ReplaceAllString(m[1], "$1")
		a := slug(strings.ReplaceAll(text, "`", ""))
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// linkProblems checks the relative links of the document at path: the
// file or directory must exist, and an anchor into a Markdown file must
// name one of its headings.
func linkProblems(path string, md markdown) []string {
	var problems []string
	for _, p := range md.prose {
		text, _ := inlineCode(p.text)
		var targets []string
		for _, m := range inlineRE.FindAllStringSubmatch(text, -1) {
			targets = append(targets, m[1])
		}
		if m := referenceRE.FindStringSubmatch(text); m != nil {
			targets = append(targets, m[1])
		}
		for _, target := range targets {
			if problem := checkLink(path, md, target); problem != "" {
				problems = append(problems, fmt.Sprintf("line %d: link %q: %s", p.line, target, problem))
			}
		}
	}
	return problems
}

func checkLink(path string, md markdown, target string) string {
	if target == "" || schemeRE.MatchString(target) || strings.HasPrefix(target, "//") {
		return ""
	}
	file, fragment, _ := strings.Cut(target, "#")
	targetMD := md
	if file != "" {
		resolved := filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
		if _, err := os.Stat(resolved); err != nil {
			return "no such file or directory"
		}
		if fragment == "" || !strings.HasSuffix(file, ".md") {
			return ""
		}
		raw, err := os.ReadFile(resolved)
		if err != nil {
			return err.Error()
		}
		targetMD = parseMarkdown(string(raw))
	}
	if fragment != "" && !anchors(targetMD)[fragment] {
		return "no heading with anchor #" + fragment
	}
	return ""
}

func TestDocsLinksResolve(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for _, d := range readDocs(t, root) {
		for _, problem := range linkProblems(d.path, d.md) {
			t.Errorf("%s: %s", d.rel, problem)
		}
	}
}

// exampleKind tells what a YAML example is by its top-level keys: a complete
// experiment spec, a complete collector configuration, or a fragment.
func exampleKind(doc map[string]any) string {
	has := func(keys ...string) bool {
		for _, k := range keys {
			if _, ok := doc[k]; !ok {
				return false
			}
		}
		return true
	}
	switch {
	case has("name", "targets", "candidate"):
		return "experiment"
	case has("receivers", "exporters", "service"):
		return "collector"
	}
	return "fragment"
}

// checkExample parses a YAML example and validates the complete ones as the
// server and the collector would.
func checkExample(t *testing.T, src string) (string, error) {
	var parsed any
	if err := yaml.Unmarshal([]byte(src), &parsed); err != nil {
		return "", fmt.Errorf("not YAML: %w", err)
	}
	doc, _ := parsed.(map[string]any) // a list is a fragment
	switch kind := exampleKind(doc); kind {
	case "experiment":
		_, err := experiments.ParseSpec([]byte(src))
		return kind, err
	case "collector":
		return kind, distribution.ValidateYAML(t.Context(), []byte(src))
	default:
		return kind, nil
	}
}

func TestDocsYAMLExamplesAreValid(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	validated := 0
	for _, d := range readDocs(t, root) {
		for _, b := range d.md.blocks {
			if b.lang != "yaml" && b.lang != "yml" {
				continue
			}
			kind, err := checkExample(t, strings.Join(b.lines, "\n"))
			if err != nil {
				t.Errorf("%s:%d: %s example: %v", d.rel, b.line, kind, err)
			}
			if kind != "fragment" {
				validated++
			}
		}
	}
	assert.GreaterOrEqual(t, validated, 2, "the docs hold an experiment spec and a collector configuration")
}
