// Package builder assembles Phoenix's OCI images without a container engine:
// a minimal root filesystem built here (users, CA certificates, /tmp) as the
// first layer, then one layer per binary, with go-containerregistry. The
// Dockerfiles in deployments/docker build the same images with an engine;
// test/deployments checks that both declare the same user, entrypoint,
// command and files.
package builder

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Binary is one file of bin/ installed into an image.
type Binary struct {
	Name string // file name in the binaries directory
	Dest string // absolute path in the image
}

// Spec is what an image holds and how it runs.
type Spec struct {
	Name         string // image name, also org.opencontainers.image.title
	Description  string
	Binaries     []Binary
	Entrypoint   []string
	Cmd          []string
	User         string // numeric uid:gid
	ExposedPorts []string
}

// Source is org.opencontainers.image.source of every image.
const Source = "https://github.com/phoenix/platform"

// Specs are the two images, as deployments/docker's Dockerfiles declare them.
var Specs = []Spec{
	{
		Name:        "phoenix-collector",
		Description: "OpAMP supervisor and the phoenix-collector distribution",
		Binaries: []Binary{
			{Name: "opampsupervisor", Dest: "/usr/local/bin/opampsupervisor"},
			{Name: "phoenix-collector", Dest: "/usr/local/bin/phoenix-collector"},
		},
		Entrypoint: []string{"/usr/local/bin/opampsupervisor"},
		Cmd:        []string{"--config", "/etc/phoenix/supervisor.yaml"},
		User:       fmt.Sprintf("%d:%d", NonRoot, NonRoot),
	},
	{
		Name:         "phoenix-server",
		Description:  "Phoenix control plane: OpAMP server, REST API and experiment controller",
		Binaries:     []Binary{{Name: "phoenix", Dest: "/usr/local/bin/phoenix"}},
		Entrypoint:   []string{"/usr/local/bin/phoenix", "server"},
		Cmd:          []string{"--config", "/etc/phoenix/server.yaml"},
		User:         fmt.Sprintf("%d:%d", NonRoot, NonRoot),
		ExposedPorts: []string{"4320/tcp", "8080/tcp"},
	},
}

// Lookup returns the spec of the named image.
func Lookup(name string) (Spec, error) {
	for _, s := range Specs {
		if s.Name == name {
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("no image named %q (images: phoenix-collector, phoenix-server)", name)
}

// Options are the inputs of a build that are not the image's definition.
type Options struct {
	BinDir   string    // where the binaries are; they must be static
	CABundle string    // PEM bundle installed as DefaultCABundle
	Version  string    // org.opencontainers.image.version
	Revision string    // org.opencontainers.image.revision; optional
	Created  time.Time // image creation time; the zero time is the Unix epoch
	Arch     string    // GOARCH of the binaries; runtime.GOARCH when empty
}

// Labels returns the image's OCI annotations as configuration labels.
func (s Spec) Labels(o Options) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       s.Name,
		"org.opencontainers.image.description": s.Description,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.source":      Source,
	}
	if o.Revision != "" {
		l["org.opencontainers.image.revision"] = o.Revision
	}
	return l
}

// Build assembles the image: the base layer, then one layer per binary.
func Build(s Spec, o Options) (v1.Image, error) {
	if o.Version == "" {
		return nil, errors.New("image version is empty")
	}
	ca, err := os.ReadFile(o.CABundle)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w (install the Debian package ca-certificates)", err)
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("CA certificates: %s holds no PEM certificate", o.CABundle)
	}
	arch := o.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	base, err := layer(baseEntries(ca))
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	adds := []mutate.Addendum{{Layer: base, History: v1.History{CreatedBy: "phoenix images: base (users, CA certificates, /tmp)", Created: v1.Time{Time: o.Created}}}}
	for _, b := range s.Binaries {
		src := filepath.Join(o.BinDir, b.Name)
		if err := checkStatic(src); err != nil {
			return nil, err
		}
		l, err := layer([]entry{{name: b.Dest, mode: 0o755, src: src}})
		if err != nil {
			return nil, fmt.Errorf("layer of %s: %w", b.Name, err)
		}
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "phoenix images: COPY " + b.Name + " " + b.Dest, Created: v1.Time{Time: o.Created}}})
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if img, err = mutate.Append(img, adds...); err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", arch, v1.Time{Time: o.Created}
	cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.User = s.Entrypoint, s.Cmd, s.User
	cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=" + DefaultCABundle}
	cf.Config.WorkingDir = "/"
	cf.Config.Labels = s.Labels(o)
	if len(s.ExposedPorts) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range s.ExposedPorts {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	return mutate.ConfigFile(img, cf)
}

// layer is a gzip-compressed OCI layer of entries, held in memory.
func layer(entries []entry) (v1.Layer, error) {
	raw, err := tarEntries(entries)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestSpeed))
}

// checkStatic refuses a binary that needs a dynamic loader: the images have
// no C library. Build with CGO_ENABLED=0, as `make images` does.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w (run `make images`, which builds it)", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: the image has no C library; build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}
