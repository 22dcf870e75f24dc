package builder

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Outputs are the files Write produces for one image.
type Outputs struct {
	Layout  string // OCI image layout directory (skopeo copy oci:DIR, crane push)
	Tarball string // docker-archive tarball (docker load, podman load)
}

// Write stores img under dir as an OCI image layout, dir/NAME, tagged with
// the version, and as a tarball, dir/NAME.tar, that engines load as
// NAME:VERSION. Earlier outputs of the same name are replaced.
func Write(dir string, s Spec, version string, img v1.Image) (Outputs, error) {
	tag, err := name.NewTag(s.Name+":"+version, name.WithDefaultRegistry(""))
	if err != nil {
		return Outputs{}, fmt.Errorf("image tag %s:%s: %w", s.Name, version, err)
	}
	out := Outputs{Layout: filepath.Join(dir, s.Name), Tarball: filepath.Join(dir, s.Name+".tar")}
	if err := os.RemoveAll(out.Layout); err != nil {
		return Outputs{}, err
	}
	p, err := layout.Write(out.Layout, empty.Index)
	if err != nil {
		return Outputs{}, err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": version,
	})); err != nil {
		return Outputs{}, fmt.Errorf("writing %s: %w", out.Layout, err)
	}
	if err := tarball.WriteToFile(out.Tarball, tag, img); err != nil {
		return Outputs{}, fmt.Errorf("writing %s: %w", out.Tarball, err)
	}
	return out, nil
}

// ReadLayout returns the image an OCI layout written by Write holds.
func ReadLayout(dir string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("%s holds %d images, want 1", dir, len(m.Manifests))
	}
	return idx.Image(m.Manifests[0].Digest)
}
