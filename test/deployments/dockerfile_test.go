package deployments_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Dockerfile and Makefile readers below understand the subset of both
// languages the repository uses; anything else is an error, never skipped.

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, COPY, …
	Args string
}

// stage is one FROM and the instructions after it.
type stage struct {
	From, Name   string
	Instructions []instruction
}

// dockerfile is a parsed Dockerfile: ARGs before the first FROM, then stages.
type dockerfile struct {
	GlobalArgs map[string]string
	Stages     []stage
}

var fromRE = regexp.MustCompile(`^(\S+)(?:\s+(?i:as)\s+(\S+))?$`)

func parseDockerfile(raw string) (dockerfile, error) {
	df := dockerfile{GlobalArgs: map[string]string{}}
	var logical []string
	var cur strings.Builder
	for _, line := range strings.Split(raw, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue // comments may sit inside a continued instruction too
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		return df, fmt.Errorf("the last instruction ends with a continuation")
	}
	for _, l := range logical {
		cmd, args, _ := strings.Cut(l, " ")
		ins := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		switch {
		case ins.Cmd == "FROM":
			m := fromRE.FindStringSubmatch(ins.Args)
			if m == nil {
				return df, fmt.Errorf("FROM %q: want IMAGE [AS NAME]", ins.Args)
			}
			df.Stages = append(df.Stages, stage{From: m[1], Name: m[2]})
		case len(df.Stages) == 0 && ins.Cmd == "ARG":
			name, value, _ := strings.Cut(ins.Args, "=")
			df.GlobalArgs[name] = value
		case len(df.Stages) == 0:
			return df, fmt.Errorf("%s before the first FROM", ins.Cmd)
		default:
			s := &df.Stages[len(df.Stages)-1]
			s.Instructions = append(s.Instructions, ins)
		}
	}
	if len(df.Stages) == 0 {
		return df, fmt.Errorf("no FROM")
	}
	return df, nil
}

// all returns the arguments of every instruction cmd in the stage.
func (s stage) all(cmd string) []string {
	var out []string
	for _, ins := range s.Instructions {
		if ins.Cmd == cmd {
			out = append(out, ins.Args)
		}
	}
	return out
}

// one returns the arguments of the stage's only cmd instruction.
func (s stage) one(tb testing.TB, cmd string) string {
	tb.Helper()
	all := s.all(cmd)
	require.Len(tb, all, 1, "stage %q: want exactly one %s", s.Name, cmd)
	return all[0]
}

// runCommands returns each RUN's command as shell words, its --mount
// options (build caches) removed.
func (s stage) runCommands(tb testing.TB) [][]string {
	tb.Helper()
	var out [][]string
	for _, run := range s.all("RUN") {
		words, err := shellWords(run)
		require.NoError(tb, err, "RUN %s", run)
		for len(words) > 0 && strings.HasPrefix(words[0], "--mount=") {
			words = words[1:]
		}
		out = append(out, words)
	}
	return out
}

// execForm decodes an ENTRYPOINT or CMD in exec (JSON) form.
func execForm(tb testing.TB, args string) []string {
	tb.Helper()
	var argv []string
	require.NoError(tb, json.Unmarshal([]byte(args), &argv), "%q is not in exec (JSON) form", args)
	return argv
}

// copySpec is a COPY instruction.
type copySpec struct {
	From    string
	Sources []string
	Dest    string
}

func (s stage) copies(tb testing.TB) []copySpec {
	tb.Helper()
	var out []copySpec
	for _, args := range s.all("COPY") {
		words, err := shellWords(args)
		require.NoError(tb, err)
		var c copySpec
		for len(words) > 0 && strings.HasPrefix(words[0], "--") {
			if from, ok := strings.CutPrefix(words[0], "--from="); ok {
				c.From = from
			}
			words = words[1:]
		}
		require.GreaterOrEqual(tb, len(words), 2, "COPY %s", args)
		c.Sources, c.Dest = words[:len(words)-1], words[len(words)-1]
		out = append(out, c)
	}
	return out
}

// labels returns the stage's LABEL key=value pairs.
func (s stage) labels(tb testing.TB) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, args := range s.all("LABEL") {
		words, err := shellWords(args)
		require.NoError(tb, err)
		for _, w := range words {
			k, v, ok := strings.Cut(w, "=")
			require.True(tb, ok, "LABEL %s: want key=value", w)
			out[k] = v
		}
	}
	return out
}

// shellWords splits a command line into words as a POSIX shell does for
// quoting (single quotes, double quotes with \" \\ \$ escapes, backslash
// escapes), without expanding anything: ${VERSION} stays as written.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			w.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

func TestShellWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`go build -o bin/x ./cli`, []string{"go", "build", "-o", "bin/x", "./cli"}},
		{`-ldflags '-X a.b=$(V)'`, []string{"-ldflags", "-X a.b=$(V)"}},
		{`-ldflags "-X a.b=${V}"`, []string{"-ldflags", "-X a.b=${V}"}},
		{`a "b \"c\" \$d" e\ f`, []string{"a", `b "c" $d`, "e f"}},
		{`k="v w" x=y`, []string{"k=v w", "x=y"}},
	}
	for _, tt := range tests {
		got, err := shellWords(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	for _, bad := range []string{`a 'b`, `a "b`} {
		_, err := shellWords(bad)
		assert.Error(t, err, bad)
	}
}

func TestParseDockerfile(t *testing.T) {
	df, err := parseDockerfile(`# syntax=docker/dockerfile:1
ARG GO_VERSION=1.26.8
FROM golang:${GO_VERSION} AS build
RUN --mount=type=cache,target=/x \
    # a comment inside the instruction
    go build \
      -o bin/x ./cli
FROM scratch
COPY --from=build /src/bin/x /x
ENTRYPOINT ["/x"]
`)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"GO_VERSION": "1.26.8"}, df.GlobalArgs)
	require.Len(t, df.Stages, 2)
	assert.Equal(t, "build", df.Stages[0].Name)
	assert.Equal(t, [][]string{{"go", "build", "-o", "bin/x", "./cli"}}, df.Stages[0].runCommands(t))
	assert.Equal(t, []copySpec{{From: "build", Sources: []string{"/src/bin/x"}, Dest: "/x"}}, df.Stages[1].copies(t))
	assert.Equal(t, []string{"/x"}, execForm(t, df.Stages[1].one(t, "ENTRYPOINT")))

	for _, bad := range []string{"RUN x\n", "FROM a b c\n", "FROM a\nRUN x \\", "# nothing\n"} {
		_, err := parseDockerfile(bad)
		assert.Error(t, err, bad)
	}
}
