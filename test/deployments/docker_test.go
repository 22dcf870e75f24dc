package deployments_test

import (
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// image describes one image the deployments run.
type image struct {
	// Dockerfile is the file in deployments/docker.
	Dockerfile string
	// Name is the image name the Kubernetes manifests use.
	Name string
	// Targets are the Makefile targets whose commands the build stage runs,
	// in order.
	Targets []string
}

var images = []image{
	{Dockerfile: "collector.Dockerfile", Name: "phoenix-collector", Targets: []string{"generate-collector", "collector", "supervisor"}},
	{Dockerfile: "server.Dockerfile", Name: "phoenix-server", Targets: []string{"phoenix"}},
}

// imageNamed returns the image the manifests call name.
func imageNamed(tb testing.TB, name string) image {
	tb.Helper()
	for _, img := range images {
		if img.Name == name {
			return img
		}
	}
	tb.Fatalf("no Dockerfile builds %s", name)
	return image{}
}

// builtImage is what a Dockerfile produces, read statically.
type builtImage struct {
	df         dockerfile
	build      stage // the stage that compiles
	final      stage // the runtime stage
	Entrypoint []string
	Cmd        []string
	User       string
	// Installed maps a path in the image to the binary's name in bin/.
	Installed map[string]string
}

func loadImage(tb testing.TB, img image) builtImage {
	tb.Helper()
	df, err := parseDockerfile(string(readFile(tb, repoPath(tb, "deployments", "docker", img.Dockerfile))))
	require.NoError(tb, err, img.Dockerfile)
	require.Len(tb, df.Stages, 2, "%s: a build stage and a runtime stage", img.Dockerfile)
	b := builtImage{df: df, build: df.Stages[0], final: df.Stages[1], Installed: map[string]string{}}
	b.Entrypoint = execForm(tb, b.final.one(tb, "ENTRYPOINT"))
	b.Cmd = execForm(tb, b.final.one(tb, "CMD"))
	b.User = b.final.one(tb, "USER")
	workdir := b.build.one(tb, "WORKDIR")
	for _, c := range b.final.copies(tb) {
		require.Equal(tb, b.build.Name, c.From, "%s: the runtime stage copies only from the build stage", img.Dockerfile)
		require.Len(tb, c.Sources, 1)
		rel, ok := strings.CutPrefix(c.Sources[0], workdir+"/bin/")
		require.True(tb, ok, "%s: %s is not a binary the build put in %s/bin", img.Dockerfile, c.Sources[0], workdir)
		b.Installed[c.Dest] = rel
	}
	return b
}

// makefileOverrides are the values the Dockerfiles give the Makefile's
// variables: the go on PATH, and the VERSION build argument.
// $(STATIC) is the Dockerfiles' ENV CGO_ENABLED=0, checked on its own.
var makefileOverrides = map[string]string{"GO": "go", "VERSION": "${VERSION}", "STATIC": ""}

func TestDockerfilesBuildWithTheMakefileCommands(t *testing.T) {
	mf := parseMakefile(string(readFile(t, repoPath(t, "Makefile"))))
	for _, img := range images {
		t.Run(img.Dockerfile, func(t *testing.T) {
			b := loadImage(t, img)
			assert.Regexp(t, `(?m)^ENV CGO_ENABLED=0\b`, string(readFile(t, repoPath(t, "deployments", "docker", img.Dockerfile))),
				"the build stage builds static binaries, as $(STATIC) does")
			var want [][]string
			for _, target := range img.Targets {
				want = append(want, mf.buildCommand(t, target, makefileOverrides))
			}
			assert.Equal(t, want, b.build.runCommands(t), "the build stage runs exactly the Makefile's commands")

			// Every binary copied into the image is one the commands build.
			for dest, bin := range b.Installed {
				assert.Equal(t, "/usr/local/bin/"+bin, dest)
				built := false
				for _, cmd := range want {
					for i, w := range cmd {
						built = built || (w == "-o" && i+1 < len(cmd) && cmd[i+1] == mustExpand(t, mf, "$(BIN)")+"/"+bin)
					}
				}
				assert.True(t, built, "%s is not built by the Makefile's commands", bin)
			}
		})
	}
}

func mustExpand(tb testing.TB, mf makefile, s string) string {
	tb.Helper()
	out, err := mf.expand(s, makefileOverrides)
	require.NoError(tb, err)
	return out
}

var goDirectiveRE = regexp.MustCompile(`(?m)^go (\S+)$`)

func TestDockerfileStages(t *testing.T) {
	goVersion := goDirectiveRE.FindStringSubmatch(string(readFile(t, repoPath(t, "go.mod"))))
	require.NotNil(t, goVersion, "go.mod has no go directive")
	for _, img := range images {
		t.Run(img.Dockerfile, func(t *testing.T) {
			b := loadImage(t, img)
			assert.Equal(t, goVersion[1], b.df.GlobalArgs["GO_VERSION"], "the build uses go.mod's Go")
			assert.True(t, strings.HasPrefix(b.build.From, "golang:${GO_VERSION}"), "build stage FROM %s", b.build.From)
			assert.Contains(t, b.build.all("ENV"), "CGO_ENABLED=0 GOTOOLCHAIN=local",
				"static binaries (the runtime image has no libc), built with the image's Go only")

			assert.True(t, strings.HasPrefix(b.final.From, "gcr.io/distroless/static-"), "runtime stage FROM %s", b.final.From)
			assert.Empty(t, b.final.Name, "the runtime stage is the last and unnamed")
			assert.Equal(t, img.Name, b.final.labels(t)["org.opencontainers.image.title"])

			uid, gid, ok := strings.Cut(b.User, ":")
			require.True(t, ok, "USER %s: want numeric uid:gid, which runAsNonRoot can verify", b.User)
			for _, id := range []string{uid, gid} {
				n, err := strconv.Atoi(id)
				require.NoError(t, err, "USER %s must be numeric", b.User)
				assert.NotZero(t, n, "USER %s must not be root", b.User)
			}

			require.NotEmpty(t, b.Entrypoint)
			assert.Contains(t, b.Installed, b.Entrypoint[0], "the entrypoint is a binary the image installs")
			assert.Equal(t, []string{"--config", "/etc/phoenix/" + path.Base(b.Cmd[1])}, b.Cmd,
				"the default command reads /etc/phoenix, where the manifests mount configuration")
		})
	}
}

func TestDockerignoreKeepsBuildOutputsOut(t *testing.T) {
	for _, img := range images {
		t.Run(img.Dockerfile, func(t *testing.T) {
			// BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile.
			raw := string(readFile(t, repoPath(t, "deployments", "docker", img.Dockerfile+".dockerignore")))
			var patterns []string
			for _, l := range strings.Split(raw, "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					patterns = append(patterns, l)
				}
			}
			for _, p := range []string{"bin", "_build", ".git"} {
				assert.Contains(t, patterns, p)
			}
			for _, p := range patterns {
				assert.False(t, strings.HasPrefix(p, "!"), "nothing is re-included: %s", p)
				for _, needed := range []string{"go.mod", "go.sum", "builder-config.yaml", "cli", "*.go"} {
					assert.NotEqual(t, needed, p, "the build needs %s", needed)
				}
			}
		})
	}
}
