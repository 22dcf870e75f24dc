// Command images builds Phoenix's OCI images without a container engine
// (`make images`): phoenix-collector (the OpAMP supervisor and the
// collector) and phoenix-server (the phoenix binary), from static binaries,
// as OCI layouts and loadable tarballs.
//
//	go run ./deployments/images --bin-dir bin --out bin/images --version 0.1.0
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/phoenix/platform/deployments/images/builder"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	binDir := fs.String("bin-dir", "bin", "directory of the static binaries (CGO_ENABLED=0) `make build` makes")
	out := fs.String("out", "bin/images", "directory the layouts and tarballs are written to")
	version := fs.String("version", "", "image version: tag and org.opencontainers.image.version (required)")
	revision := fs.String("revision", "", "org.opencontainers.image.revision, e.g. the git commit")
	ca := fs.String("ca-bundle", builder.DefaultCABundle, "PEM CA bundle installed in the images (Debian: ca-certificates)")
	only := fs.String("only", "", "build one image: phoenix-collector or phoenix-server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *version == "" {
		return fmt.Errorf("--version is required")
	}
	created, err := sourceDate()
	if err != nil {
		return err
	}
	specs := builder.Specs
	if *only != "" {
		s, err := builder.Lookup(*only)
		if err != nil {
			return fmt.Errorf("--only: %w", err)
		}
		specs = []builder.Spec{s}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	opts := builder.Options{BinDir: *binDir, CABundle: *ca, Version: *version, Revision: *revision, Created: created}
	for _, s := range specs {
		img, err := builder.Build(s, opts)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		o, err := builder.Write(*out, s, *version, img)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		fmt.Printf("%s:%s %s\n  OCI layout %s\n  tarball    %s\n", s.Name, *version, d, o.Layout, o.Tarball)
	}
	return nil
}

// sourceDate is the images' creation time: SOURCE_DATE_EPOCH when set (the
// reproducible-builds convention), else the Unix epoch, so that unchanged
// binaries give unchanged digests.
func sourceDate() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds", s)
	}
	return time.Unix(n, 0).UTC(), nil
}
