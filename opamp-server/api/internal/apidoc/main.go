// Command apidoc writes the control plane's API reference (docs/api.md)
// from its OpenAPI document, so the reference never drifts from what the
// server serves. opamp-server/api runs it with go generate:
//
//	go run ./internal/apidoc -o ../../docs/api.md
//
// The output is deterministic: operations sorted by path and method,
// fields and schemas by name, and roles taken from the auth package.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/phoenix/platform/opamp-server/auth"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "apidoc:", err)
		os.Exit(1)
	}
}

// run parses flags and writes the reference.
func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("apidoc", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	in := fs.String("i", "openapi.json", "OpenAPI document to read")
	out := fs.String("o", "-", `Markdown file to write ("-": standard output)`)
	regen := fs.String("regenerate", "make generate", "command the header tells readers to run after changing the document")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w (usage: apidoc [-i openapi.json] [-o file.md] [-regenerate command])", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	raw, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	doc, err := parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	src := source{Link: filepath.ToSlash(*in), Regenerate: *regen}
	if *out != "-" {
		if src.Link, err = relativeLink(*out, *in); err != nil {
			return err
		}
	}
	md, err := render(doc, grants(), src)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if *out == "-" {
		_, err = io.WriteString(stdout, md)
		return err
	}
	return writeIfChanged(*out, []byte(md))
}

// relativeLink is the path of target as a link written in file.
func relativeLink(file, target string) (string, error) {
	fileAbs, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	targetAbs, err := filepath.Abs(target)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(filepath.Dir(fileAbs), targetAbs)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(rel), nil
}

// writeIfChanged leaves an up-to-date file alone, so its modification time
// only moves when its content does.
func writeIfChanged(path string, content []byte) error {
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, content) {
		return nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.WriteFile(path, content, 0o644)
}

// grants is the role table of the auth package: which permissions each role
// grants, asked of the package itself rather than copied.
func grants() []roleGrant {
	roles, perms := auth.Roles(), auth.Permissions()
	out := make([]roleGrant, 0, len(roles))
	for _, role := range roles {
		g := roleGrant{Role: string(role)}
		for _, p := range perms {
			if (auth.Principal{Roles: []auth.Role{role}}).Can(p) {
				g.Permissions = append(g.Permissions, string(p))
			}
		}
		out = append(out, g)
	}
	return out
}
