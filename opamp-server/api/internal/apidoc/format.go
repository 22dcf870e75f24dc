package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// typeOf names a schema's type; referenced schemas link to their section.
func (r *renderer) typeOf(s *schema) string {
	if s == nil {
		return "any"
	}
	if s.Ref != "" {
		name, _ := r.doc.schemaRef(s.Ref)
		return r.link(name, schemaKey(name))
	}
	combine := func(word, sep string, parts []*schema) string {
		if len(parts) == 1 { // a reference with a description of its own
			return r.typeOf(parts[0])
		}
		names := make([]string, len(parts))
		for i, p := range parts {
			names[i] = r.typeOf(p)
		}
		return word + " " + strings.Join(names, sep)
	}
	switch {
	case len(s.AllOf) > 0:
		return combine("all of", " and ", s.AllOf)
	case len(s.OneOf) > 0:
		return combine("one of", " or ", s.OneOf)
	case len(s.AnyOf) > 0:
		return combine("any of", " or ", s.AnyOf)
	}
	t := s.Type
	switch {
	case t == "array":
		return "array of " + r.typeOf(s.Items)
	case t == "object" || (t == "" && (len(s.Properties) > 0 || s.AdditionalProperties != nil)):
		if ap := s.AdditionalProperties; ap != nil && ap.Schema != nil && len(s.Properties) == 0 {
			return "map of " + r.typeOf(ap.Schema)
		}
		return "object"
	case t == "":
		return "any"
	}
	if s.Format != "" {
		t += " (" + s.Format + ")"
	}
	return t
}

// constraints describes a schema's enum, bounds, default and example.
func constraints(s *schema) string {
	if s == nil {
		return ""
	}
	var parts []string
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = "`" + literal(v) + "`"
		}
		parts = append(parts, "One of "+strings.Join(vals, ", ")+".")
	}
	switch {
	case s.Minimum != nil && s.Maximum != nil:
		parts = append(parts, fmt.Sprintf("From %s to %s.", number(*s.Minimum), number(*s.Maximum)))
	case s.Minimum != nil:
		parts = append(parts, fmt.Sprintf("At least %s.", number(*s.Minimum)))
	case s.Maximum != nil:
		parts = append(parts, fmt.Sprintf("At most %s.", number(*s.Maximum)))
	}
	if s.MinItems != nil {
		parts = append(parts, fmt.Sprintf("At least %d items.", *s.MinItems))
	}
	if s.MaxItems != nil {
		parts = append(parts, fmt.Sprintf("At most %d items.", *s.MaxItems))
	}
	if s.Pattern != "" {
		parts = append(parts, "Matches `"+s.Pattern+"`.")
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Allowed && s.AdditionalProperties.Schema == nil && s.Ref == "" {
		parts = append(parts, "Any keys.")
	}
	if s.Nullable {
		parts = append(parts, "May be null.")
	}
	if s.ReadOnly {
		parts = append(parts, "Read-only.")
	}
	if s.WriteOnly {
		parts = append(parts, "Write-only.")
	}
	if s.Default != nil {
		parts = append(parts, "Default `"+literal(s.Default)+"`.")
	}
	if s.Example != nil {
		parts = append(parts, "Example: `"+literal(s.Example)+"`.")
	}
	return strings.Join(parts, " ")
}

// literal prints a JSON value as it is written, strings without quotes.
func literal(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// isError reports whether a response status is an error: 4xx, 5xx, their
// patterns, or default.
func isError(status string) bool {
	if n, err := strconv.Atoi(status); err == nil {
		return n >= 400
	}
	return status == "default" || strings.HasPrefix(status, "4") || strings.HasPrefix(status, "5")
}

func number(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

func codes(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "`" + s + "`"
	}
	return strings.Join(out, ", ")
}

// joinSentences joins non-empty texts, ending the first with a period.
func joinSentences(a, b string) string {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	switch {
	case a == "":
		return b
	case b == "":
		return a
	case !strings.HasSuffix(a, ".") && !strings.HasSuffix(a, "?") && !strings.HasSuffix(a, "!"):
		a += "."
	}
	return a + " " + b
}

// prose escapes text for a Markdown paragraph, leaving `code spans` as
// written: characters that would start emphasis, strikethrough, HTML or
// links outside code are backslash-escaped.
func prose(s string) string {
	var b strings.Builder
	inCode := false
	runes := []rune(s)
	for i, c := range runes {
		if c == '`' {
			inCode = !inCode
			b.WriteRune(c)
			continue
		}
		if !inCode && needsEscape(runes, i) {
			b.WriteRune('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func needsEscape(runes []rune, i int) bool {
	switch runes[i] {
	case '\\', '*', '~', '<', '>', '[', ']':
		return true
	case '_':
		// Inside a word an underscore never emphasises (snake_case).
		inWord := func(j int) bool {
			return j >= 0 && j < len(runes) && (unicode.IsLetter(runes[j]) || unicode.IsDigit(runes[j]))
		}
		return !inWord(i-1) || !inWord(i+1)
	}
	return false
}

// cell escapes text for a table cell: one line, and no "|" that would end
// the cell, even inside a code span.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(prose(s), "|", `\|`)
}

// slug is the anchor GitHub gives a heading: lower case, letters, digits,
// "-" and "_" kept, spaces turned into "-", everything else dropped.
func slug(heading string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(c) || unicode.IsDigit(c) || c == '-' || c == '_':
			b.WriteRune(c)
		case c == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// target follows a schema's reference, or its only allOf part, to the
// schema it stands for; nil when there is none.
func (r *renderer) target(s *schema) *schema {
	for s != nil {
		switch {
		case s.Ref != "":
			name, err := r.doc.schemaRef(s.Ref)
			if err != nil {
				return nil
			}
			s = r.doc.Components.Schemas[name]
		case len(s.AllOf) == 1 && len(s.Properties) == 0:
			s = s.AllOf[0]
		default:
			return s
		}
	}
	return nil
}
