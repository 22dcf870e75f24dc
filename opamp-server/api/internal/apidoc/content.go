package main

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// bodies describes response content: the envelope's data, or the schema,
// with the media type unless it is JSON.
func (r *renderer) bodies(content map[string]*mediaType) string {
	var parts []string
	for _, group := range groupContent(content) {
		var desc string
		if _, ok := r.envelopeMeta(group.schema); ok {
			desc = "envelope, `data`: " + r.inline(group.schema.Properties["data"])
		} else {
			desc = r.inline(group.schema)
		}
		if len(group.types) != 1 || group.types[0] != "application/json" {
			desc = codes(group.types) + ": " + desc
		}
		parts = append(parts, desc)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// inline describes a schema in one table cell: its type, and the fields of
// an object written in place.
func (r *renderer) inline(s *schema) string {
	t := r.typeOf(s)
	if s == nil || s.Ref != "" || len(s.Properties) == 0 {
		return t
	}
	var fields []string
	for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
		fields = append(fields, "`"+name+"` "+r.inline(s.Properties[name]))
	}
	return t + " {" + strings.Join(fields, ", ") + "}"
}

type contentGroup struct {
	types  []string
	schema *schema
}

// groupContent groups media types that share one schema, so a body
// accepted as JSON or YAML is described once.
func groupContent(content map[string]*mediaType) []contentGroup {
	var groups []contentGroup
	for _, ct := range slices.Sorted(maps.Keys(content)) {
		var s *schema
		if content[ct] != nil {
			s = content[ct].Schema
		}
		key, _ := json.Marshal(s)
		found := false
		for i := range groups {
			other, _ := json.Marshal(groups[i].schema)
			if string(other) == string(key) {
				groups[i].types = append(groups[i].types, ct)
				found = true
				break
			}
		}
		if !found {
			groups = append(groups, contentGroup{types: []string{ct}, schema: s})
		}
	}
	return groups
}

func sortedStatuses(responses map[string]*response) []string {
	statuses := slices.Sorted(maps.Keys(responses))
	// "default" and patterns such as "4XX" after the exact codes.
	slices.SortStableFunc(statuses, func(a, b string) int {
		_, errA := strconv.Atoi(a)
		_, errB := strconv.Atoi(b)
		switch {
		case errA == nil && errB != nil:
			return -1
		case errA != nil && errB == nil:
			return 1
		}
		return strings.Compare(a, b)
	})
	return statuses
}

func (r *renderer) schemas() {
	if len(r.doc.Components.Schemas) == 0 {
		return
	}
	r.heading(2, "Schemas", "")
	for _, name := range slices.Sorted(maps.Keys(r.doc.Components.Schemas)) {
		s := r.doc.Components.Schemas[name]
		r.heading(3, name, schemaKey(name))
		if s.Description != "" {
			r.printf("%s\n\n", prose(s.Description))
		}
		if len(s.Properties) == 0 && len(s.AllOf) == 0 {
			r.printf("Type: %s.", r.typeOf(s))
			if c := constraints(s); c != "" {
				r.printf(" %s", prose(c))
			}
			r.printf("\n\n")
			continue
		}
		r.fieldTable(s)
	}
}

// fieldTable lists an object's fields, nested objects flattened into dotted
// names (`a.b`, `list[].c`); fields of referenced schemas are in their own
// sections.
func (r *renderer) fieldTable(s *schema) {
	var rows [][4]string
	r.collectFields("", s, &rows)
	if len(rows) == 0 {
		return
	}
	var refs []string
	for _, part := range s.AllOf {
		if part.Ref != "" {
			refs = append(refs, r.typeOf(part))
		}
	}
	if len(refs) > 0 {
		r.printf("The fields of %s, and:\n\n", strings.Join(refs, " and "))
	}
	r.printf("| Field | Type | Required | Description |\n| --- | --- | --- | --- |\n")
	for _, row := range rows {
		r.printf("| `%s` | %s | %s | %s |\n", row[0], row[1], row[2], cell(row[3]))
	}
	r.printf("\n")
}

func (r *renderer) collectFields(prefix string, s *schema, rows *[][4]string) {
	if s == nil || s.Ref != "" {
		return
	}
	for _, part := range s.AllOf {
		r.collectFields(prefix, part, rows)
	}
	for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
		p := s.Properties[name]
		*rows = append(*rows, [4]string{prefix + name, r.typeOf(p), yes(slices.Contains(s.Required, name)),
			joinSentences(p.Description, constraints(p))})
		switch {
		case p.Ref == "" && len(p.Properties) > 0:
			r.collectFields(prefix+name+".", p, rows)
		case p.Type == "array" && p.Items != nil && p.Items.Ref == "" && len(p.Items.Properties) > 0:
			r.collectFields(prefix+name+"[].", p.Items, rows)
		}
	}
}
