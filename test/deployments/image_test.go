package deployments_test

import (
	"archive/tar"
	"debug/elf"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/deployments/images/builder"
	"github.com/phoenix/platform/test/testenv"
)

// The engine-free builder and the Dockerfiles describe the same images.
func TestImageBuilderMatchesDockerfiles(t *testing.T) {
	names := map[string]bool{}
	for _, img := range images {
		names[img.Name] = true
	}
	for _, s := range builder.Specs {
		assert.True(t, names[s.Name], "the builder's %s has no Dockerfile", s.Name)
		delete(names, s.Name)
		t.Run(s.Name, func(t *testing.T) {
			df := loadImage(t, imageNamed(t, s.Name))
			assert.Equal(t, df.User, s.User, "USER")
			assert.Equal(t, df.Entrypoint, s.Entrypoint, "ENTRYPOINT")
			assert.Equal(t, df.Cmd, s.Cmd, "CMD")
			installed := map[string]string{}
			for _, b := range s.Binaries {
				installed[b.Dest] = b.Name
			}
			assert.Equal(t, df.Installed, installed, "COPY: the same binaries at the same paths")
			labels := df.final.labels(t)
			built := s.Labels(builder.Options{Version: "v"})
			for _, k := range []string{"org.opencontainers.image.title", "org.opencontainers.image.description"} {
				assert.Equal(t, labels[k], built[k], "LABEL %s", k)
			}
			var exposed []string
			for _, e := range df.final.all("EXPOSE") {
				for _, p := range strings.Fields(e) {
					if !strings.Contains(p, "/") {
						p += "/tcp"
					}
					exposed = append(exposed, p)
				}
			}
			assert.ElementsMatch(t, exposed, s.ExposedPorts, "EXPOSE")
		})
	}
	assert.Empty(t, names, "Dockerfiles without an engine-free build")
}

// imageBinDir holds the static binaries `make build` makes and `make
// images` packages.
func imageBinDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PHOENIX_IMAGE_BIN_DIR")
	if dir == "" {
		dir = repoPath(t, "bin")
	}
	for _, s := range builder.Specs {
		for _, b := range s.Binaries {
			if _, err := os.Stat(filepath.Join(dir, b.Name)); err != nil {
				t.Fatalf("%v: run `make build` first (it builds static binaries into %s)", err, dir)
			}
		}
	}
	return dir
}

// The images, built as `make images` builds them, hold exactly a minimal
// root filesystem and the binaries, and their entrypoints run from it.
func TestImagesBuildAndRun(t *testing.T) {
	binDir := imageBinDir(t)
	for _, s := range builder.Specs {
		t.Run(s.Name, func(t *testing.T) {
			opts := builder.Options{BinDir: binDir, CABundle: builder.DefaultCABundle, Version: "1.2.3-test", Revision: "abc123"}
			built, err := builder.Build(s, opts)
			require.NoError(t, err)
			out, err := builder.Write(t.TempDir(), s, opts.Version, built)
			require.NoError(t, err)
			require.FileExists(t, out.Tarball)
			img, err := builder.ReadLayout(out.Layout)
			require.NoError(t, err)

			mt, err := img.MediaType()
			require.NoError(t, err)
			assert.Equal(t, types.OCIManifestSchema1, mt)
			m, err := img.Manifest()
			require.NoError(t, err)
			assert.Len(t, m.Layers, 1+len(s.Binaries), "a base layer, then one per binary")
			cf, err := img.ConfigFile()
			require.NoError(t, err)
			assert.Equal(t, "linux", cf.OS)
			assert.Equal(t, "65532:65532", cf.Config.User)
			assert.Equal(t, s.Entrypoint, cf.Config.Entrypoint)
			assert.Equal(t, s.Cmd, cf.Config.Cmd)
			assert.Equal(t, "1.2.3-test", cf.Config.Labels["org.opencontainers.image.version"])
			assert.Equal(t, builder.Source, cf.Config.Labels["org.opencontainers.image.source"])
			assert.Equal(t, "abc123", cf.Config.Labels["org.opencontainers.image.revision"])
			assert.Equal(t, s.Name, cf.Config.Labels["org.opencontainers.image.title"])

			root := unpack(t, img)
			want := []string{"etc", "etc/group", "etc/nsswitch.conf", "etc/passwd", "etc/ssl", "etc/ssl/certs",
				"etc/ssl/certs/ca-certificates.crt", "home", "home/nonroot", "root", "tmp", "usr", "usr/local", "usr/local/bin"}
			for _, b := range s.Binaries {
				want = append(want, strings.TrimPrefix(b.Dest, "/"))
			}
			sort.Strings(want)
			assert.Equal(t, want, tree(t, root), "nothing but the base and the binaries: no shell, no package manager")
			assert.Contains(t, string(readFile(t, filepath.Join(root, "etc/passwd"))), "nonroot:x:65532:65532:")
			assert.Contains(t, string(readFile(t, filepath.Join(root, "etc/group"))), "nonroot:x:65532:")
			assert.Equal(t, readFile(t, builder.DefaultCABundle), readFile(t, filepath.Join(root, "etc/ssl/certs/ca-certificates.crt")))
			tmp, err := os.Stat(filepath.Join(root, "tmp"))
			require.NoError(t, err)
			assert.Equal(t, fs.ModeDir|fs.ModeSticky|0o777, tmp.Mode())

			for _, b := range s.Binaries {
				assertStatic(t, filepath.Join(root, b.Dest))
			}
			runFromImage(t, root, s)
		})
	}
}

// runFromImage runs each image's programs from the unpacked root
// filesystem: the binaries are static, so no chroot is needed.
func runFromImage(t *testing.T, root string, s builder.Spec) {
	t.Helper()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(root, args[0]), args[1:]...)
		cmd.Dir, cmd.Env = root, []string{"PATH=/nonexistent"}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%v: %s", args, out)
		return string(out)
	}
	switch s.Name {
	case "phoenix-collector":
		assert.Contains(t, run("/usr/local/bin/phoenix-collector", "--version"), "phoenix-collector")
		cfg := filepath.Join(root, "tmp", "collector.yaml")
		require.NoError(t, os.WriteFile(cfg, readFile(t, repoPath(t, "deployments", "systemd", "collector.yaml")), 0o644))
		run("/usr/local/bin/phoenix-collector", "validate", "--config", cfg)
		assert.Contains(t, run("/usr/local/bin/opampsupervisor", "--help"), "config")
	case "phoenix-server":
		run("/usr/local/bin/phoenix", "version")
		assert.Contains(t, run(append(append([]string(nil), s.Entrypoint...), "--help")...), "--config")
	default:
		t.Fatalf("no run check for image %s", s.Name)
	}
}

// unpack writes the image's flattened filesystem into a temporary
// directory: regular files and directories only, as the builder writes.
func unpack(t *testing.T, img v1.Image) string {
	t.Helper()
	root := t.TempDir()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		name := filepath.Clean(hdr.Name)
		require.False(t, strings.HasPrefix(name, "..") || filepath.IsAbs(name), "entry %q escapes the root", hdr.Name)
		p := filepath.Join(root, name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			require.NoError(t, os.MkdirAll(p, 0o755))
			require.NoError(t, os.Chmod(p, fs.FileMode(hdr.Mode&0o777)|modeBits(hdr.Mode)))
		case tar.TypeReg:
			// Extract walks layers top down: a binary comes before the
			// base layer's directories.
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(hdr.Mode&0o777))
			require.NoError(t, err)
			_, err = io.Copy(f, tr)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		default:
			t.Fatalf("entry %s has type %c: the images hold files and directories only", hdr.Name, hdr.Typeflag)
		}
	}
	return root
}

func modeBits(m int64) fs.FileMode {
	var out fs.FileMode
	if m&0o1000 != 0 {
		out |= fs.ModeSticky
	}
	return out
}

// tree lists every path under root, relative and sorted.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "tmp/collector.yaml" {
			return nil
		}
		out = append(out, rel)
		return nil
	}))
	sort.Strings(out)
	return out
}

// assertStatic fails for an ELF binary that needs a dynamic loader.
func assertStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "%s is dynamically linked; the images have no C library", path)
	}
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	assert.Empty(t, libs, "%s needs shared libraries", path)
}

// Bad inputs are refused with an error that says what is wrong.
func TestImageBuilderRefusesBadInput(t *testing.T) {
	s, err := builder.Lookup("phoenix-server")
	require.NoError(t, err)
	_, err = builder.Lookup("phoenix-agent")
	assert.ErrorContains(t, err, `no image named "phoenix-agent"`)

	dir := t.TempDir()
	// The host's own ls is dynamically linked, as a cgo build of phoenix is.
	ls, err := exec.LookPath("ls")
	require.NoError(t, err)
	raw := readFile(t, ls)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "phoenix"), raw, 0o755))
	opts := builder.Options{BinDir: dir, CABundle: builder.DefaultCABundle, Version: "1"}
	_, err = builder.Build(s, opts)
	assert.ErrorContains(t, err, "is dynamically linked: the image has no C library; build it with CGO_ENABLED=0")

	noCA := opts
	noCA.CABundle = filepath.Join(dir, "missing.crt")
	_, err = builder.Build(s, noCA)
	assert.ErrorContains(t, err, "install the Debian package ca-certificates")

	notPEM := opts
	notPEM.CABundle = testenv.WriteFile(t, dir, "empty.crt", "")
	_, err = builder.Build(s, notPEM)
	assert.ErrorContains(t, err, "holds no PEM certificate")

	noVersion := opts
	noVersion.Version = ""
	_, err = builder.Build(s, noVersion)
	assert.ErrorContains(t, err, "image version is empty")

	missing := opts
	missing.BinDir = filepath.Join(dir, "nothing")
	_, err = builder.Build(s, missing)
	assert.ErrorContains(t, err, "run `make images`")
}

// `make images` packages the binaries `make build` makes, which are static,
// with the Dockerfiles' build-stage targets, then runs the engine-free
// builder: no engine anywhere.
func TestMakeImagesNeedsNoEngine(t *testing.T) {
	raw := string(readFile(t, repoPath(t, "Makefile")))
	mf := parseMakefile(raw)
	recipe := mf.recipes["images"]
	require.Len(t, recipe, 1, "images: the builder over bin/")
	assert.NotContains(t, recipe[0], "docker", "make images needs no container engine")
	assert.Regexp(t, `(?m)^images: build\b`, raw, "images packages what build makes")
	assert.Regexp(t, `(?m)^e2e-test: .*\bimages\b`, raw, "make test builds the images it tests")
	assert.Equal(t, "CGO_ENABLED=0", mf.vars["STATIC"], "static binaries: the images have no C library")
	for _, img := range images {
		for _, target := range img.Targets {
			if target == "generate-collector" { // collector depends on it
				continue
			}
			build := mf.recipes[target]
			require.NotEmpty(t, build, "target %s", target)
			assert.True(t, strings.HasPrefix(build[len(build)-1], "$(STATIC) $(GO) build"),
				"target %s builds static binaries: %s", target, build[len(build)-1])
		}
	}
	builderCmd, err := mf.expand(recipe[0], map[string]string{"GO": "go"})
	require.NoError(t, err)
	assert.Contains(t, builderCmd, "go run ./deployments/images --bin-dir bin ")
}
