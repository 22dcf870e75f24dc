package builder

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"time"
)

// NonRoot is the user and group the images run as, distroless' "nonroot".
const NonRoot = 65532

// DefaultCABundle is where Debian's ca-certificates package keeps the
// bundle Go's crypto/x509 reads on Linux.
const DefaultCABundle = "/etc/ssl/certs/ca-certificates.crt"

// entry is one file or directory of a layer.
type entry struct {
	name    string // absolute path in the image
	mode    int64
	dir     bool
	content []byte // files given in memory
	src     string // files read from disk
}

// baseEntries is the minimal root filesystem the binaries need: the users
// the images run as, CA certificates for TLS to OTLP destinations and
// OpAMP servers, a writable /tmp, and name service order for Go's resolver.
// No shell, no package manager, no C library: the binaries are static.
func baseEntries(caBundle []byte) []entry {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		fmt.Sprintf("nonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", NonRoot, NonRoot)
	group := "root:x:0:\n" +
		"nogroup:x:65534:\n" +
		fmt.Sprintf("nonroot:x:%d:\n", NonRoot)
	return []entry{
		{name: "/etc", dir: true, mode: 0o755},
		{name: "/etc/passwd", mode: 0o644, content: []byte(passwd)},
		{name: "/etc/group", mode: 0o644, content: []byte(group)},
		{name: "/etc/nsswitch.conf", mode: 0o644, content: []byte("hosts: files dns\n")},
		{name: "/etc/ssl", dir: true, mode: 0o755},
		{name: "/etc/ssl/certs", dir: true, mode: 0o755},
		{name: DefaultCABundle, mode: 0o644, content: caBundle},
		{name: "/home", dir: true, mode: 0o755},
		{name: "/home/nonroot", dir: true, mode: 0o700},
		{name: "/root", dir: true, mode: 0o700},
		{name: "/tmp", dir: true, mode: 0o1777},
		{name: "/usr", dir: true, mode: 0o755},
		{name: "/usr/local", dir: true, mode: 0o755},
		{name: "/usr/local/bin", dir: true, mode: 0o755},
	}
}

// epoch is every file's modification time: layers depend on their content
// only, so rebuilding unchanged binaries gives the same digests.
var epoch = time.Unix(0, 0).UTC()

// tarEntries writes entries as an uncompressed tar, parents first.
func tarEntries(entries []entry) ([]byte, error) {
	sorted := append([]entry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range sorted {
		if !path.IsAbs(e.name) || path.Clean(e.name) != e.name {
			return nil, fmt.Errorf("image path %q is not clean and absolute", e.name)
		}
		hdr := &tar.Header{Name: e.name[1:], Mode: e.mode, ModTime: epoch, Format: tar.FormatPAX}
		// The home directory belongs to its user, everything else to root.
		if e.name == "/home/nonroot" {
			hdr.Uid, hdr.Gid = NonRoot, NonRoot
		}
		if e.dir {
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
			if err := tw.WriteHeader(hdr); err != nil {
				return nil, err
			}
			continue
		}
		hdr.Typeflag = tar.TypeReg
		if err := writeFile(tw, hdr, e); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeFile(tw *tar.Writer, hdr *tar.Header, e entry) error {
	if e.src == "" {
		hdr.Size = int64(len(e.content))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(e.content)
		return err
	}
	f, err := os.Open(e.src)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", e.src)
	}
	hdr.Size = info.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("reading %s: %w", e.src, err)
	}
	return nil
}
