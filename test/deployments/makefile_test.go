package deployments_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// makefile is what the tests read from the Makefile: simple variable
// assignments and each target's recipe lines.
type makefile struct {
	vars    map[string]string
	recipes map[string][]string
}

var (
	makeAssignRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*(?::=|\?=|=)\s*(.*)$`)
	makeTargetRE = regexp.MustCompile(`^([A-Za-z0-9_.-]+)\s*:([^=]|$)`)
	makeVarRE    = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
)

func parseMakefile(raw string) makefile {
	mf := makefile{vars: map[string]string{}, recipes: map[string][]string{}}
	target := ""
	lines := strings.Split(raw, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(lines[i])
		}
		switch {
		case strings.HasPrefix(line, "\t"):
			if target != "" {
				mf.recipes[target] = append(mf.recipes[target], strings.TrimSpace(line))
			}
		case makeAssignRE.MatchString(line) && !makeTargetRE.MatchString(line):
			m := makeAssignRE.FindStringSubmatch(line)
			mf.vars[m[1]] = strings.TrimSpace(m[2])
			target = ""
		case makeTargetRE.MatchString(line):
			target = makeTargetRE.FindStringSubmatch(line)[1]
		default:
			target = ""
		}
	}
	return mf
}

// expand substitutes $(NAME) references, overrides first, recursively, and
// turns make's $$ into $.
func (mf makefile) expand(s string, overrides map[string]string) (string, error) {
	for depth := 0; makeVarRE.MatchString(s); depth++ {
		if depth > 10 {
			return "", fmt.Errorf("%q: variables nest too deep", s)
		}
		var missing error
		s = makeVarRE.ReplaceAllStringFunc(s, func(ref string) string {
			name := makeVarRE.FindStringSubmatch(ref)[1]
			if v, ok := overrides[name]; ok {
				return v
			}
			if v, ok := mf.vars[name]; ok {
				return v
			}
			missing = fmt.Errorf("$(%s) is not defined", name)
			return ""
		})
		if missing != nil {
			return "", missing
		}
	}
	return strings.ReplaceAll(s, "$$", "$"), nil
}

// buildCommand returns the first recipe line of target as shell words, with
// variables expanded and anything after the command itself (redirections,
// `|| …`) cut off.
func (mf makefile) buildCommand(tb testing.TB, target string, overrides map[string]string) []string {
	tb.Helper()
	recipe := mf.recipes[target]
	require.NotEmpty(tb, recipe, "Makefile target %q has no recipe", target)
	line, err := mf.expand(recipe[0], overrides)
	require.NoError(tb, err, "target %s", target)
	words, err := shellWords(line)
	require.NoError(tb, err)
	for i, w := range words {
		if strings.HasPrefix(w, ">") || strings.HasPrefix(w, "2>") || w == "||" || w == "&&" || w == ";" || w == "|" {
			return words[:i]
		}
	}
	return words
}

func TestParseMakefile(t *testing.T) {
	mf := parseMakefile("GO ?= go\nBIN := bin\nLD := -X v=$(V)\n.PHONY: a b\n\n" +
		"## a: docs\na: b\n\t$(GO) build -ldflags '$(LD)' -o $(BIN)/a . >/dev/null 2>x.log || { cat x.log; }\n\t@echo $$HOME\n" +
		"b:\n\tgo vet \\\n\t  ./...\n")
	assert.Equal(t, []string{"go", "build", "-ldflags", "-X v=${V}", "-o", "bin/a", "."},
		mf.buildCommand(t, "a", map[string]string{"V": "${V}"}))
	assert.Equal(t, []string{"go", "vet", "./..."}, mf.buildCommand(t, "b", nil))
	line, err := mf.expand(mf.recipes["a"][1], nil)
	require.NoError(t, err)
	assert.Equal(t, "@echo $HOME", line)
	_, err = mf.expand("$(NOPE)", nil)
	assert.Error(t, err)
}
