package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// comments are what the source of the types says that reflection cannot:
// doc comments and each string type's enumerated values.
type comments struct {
	types  map[string]string            // type name → doc
	fields map[string]map[string]string // type name → field name → doc
	enums  map[string][]string          // type name → values, in source order
}

// readComments parses the Go files of one package directory (tests aside).
func readComments(dir string) (*comments, error) {
	c := &comments{types: map[string]string{}, fields: map[string]map[string]string{}, enums: map[string][]string{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			switch gd.Tok {
			case token.TYPE:
				c.addTypes(gd)
			case token.CONST:
				if err := c.addEnums(fset, gd); err != nil {
					return nil, err
				}
			}
		}
	}
	return c, nil
}

func (c *comments) addTypes(gd *ast.GenDecl) {
	for _, s := range gd.Specs {
		ts := s.(*ast.TypeSpec)
		doc := ts.Doc
		if doc == nil && len(gd.Specs) == 1 {
			doc = gd.Doc
		}
		c.types[ts.Name.Name] = text(doc)
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			continue
		}
		fields := map[string]string{}
		for _, f := range st.Fields.List {
			doc := text(f.Doc)
			if doc == "" {
				doc = text(f.Comment)
			}
			for _, n := range f.Names {
				fields[n.Name] = doc
			}
		}
		c.fields[ts.Name.Name] = fields
	}
}

// addEnums records typed string constants: `Name Type = "value"`.
func (c *comments) addEnums(fset *token.FileSet, gd *ast.GenDecl) error {
	for _, s := range gd.Specs {
		vs := s.(*ast.ValueSpec)
		typ, ok := vs.Type.(*ast.Ident)
		if !ok {
			continue
		}
		for _, v := range vs.Values {
			lit, ok := v.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return fmt.Errorf("%s: a constant of type %s must be a string literal to be listed as an enumeration value", fset.Position(v.Pos()), typ.Name)
			}
			val, err := strconv.Unquote(lit.Value)
			if err != nil {
				return err
			}
			c.enums[typ.Name] = append(c.enums[typ.Name], val)
		}
	}
	return nil
}

// text is a comment as one paragraph of prose.
func text(cg *ast.CommentGroup) string {
	if cg == nil {
		return ""
	}
	return strings.Join(strings.Fields(cg.Text()), " ")
}
