package store

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// checkTemplate checks that config round-trips through TemplateText.
func checkTemplate(t *testing.T, config, uid string) {
	t.Helper()
	text, templated := TemplateText(config, uid)
	if got := ExpandText(text, uid, templated); got != config {
		t.Fatalf("config %q uid %q: template %q (templated %v) expands to %q", config, uid, text, templated, got)
	}
	wantTemplated := uid != "" && strings.Contains(config, uid) && !strings.Contains(config, TextPlaceholder)
	if templated != wantTemplated {
		t.Fatalf("config %q uid %q: templated %v, want %v", config, uid, templated, wantTemplated)
	}
}

// Random texts over a small alphabet that includes the placeholder's own
// bytes and pieces, with UIDs cut from the text, round-trip exactly.
func TestTemplateRoundTripsRandomTexts(t *testing.T) {
	pieces := []string{"a", "b", "ab", "\x01", "\x02", "phoenix", ":instance_uid", TextPlaceholder,
		TextPlaceholder[:5], TextPlaceholder[3:], "é", "\n"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		config := b.String()
		uid := "x"
		if len(config) > 0 {
			i := r.IntN(len(config))
			uid = config[i : i+1+r.IntN(min(6, len(config)-i))]
		}
		checkTemplate(t, config, uid)
		checkTemplate(t, config, pieces[r.IntN(len(pieces))])
	}
}

func TestTemplateCases(t *testing.T) {
	for _, c := range []struct{ config, uid string }{
		{"", "u"}, {"u", "u"}, {"uuu", "uu"}, {"no uid here", "u-1"},
		{"id: u-1\n" + TextPlaceholder, "u-1"}, {"aaaa", "a"}, {"\x01\x02", "\x01"},
		{"x" + TextPlaceholder[:4] + "u" + TextPlaceholder[4:], "u"},
	} {
		checkTemplate(t, c.config, c.uid)
	}
	if text, templated := TemplateText("id: u-1 u-1", "u-1"); !templated || text != "id: "+TextPlaceholder+" "+TextPlaceholder {
		t.Fatalf("got %q %v", text, templated)
	}
}

func FuzzTemplate(f *testing.F) {
	f.Add("service.instance.id: u-1\n", "u-1")
	f.Add("a"+TextPlaceholder+"a", "a")
	f.Add("\x01\x01phoenix:instance_uid\x02\x02", "\x01")
	f.Fuzz(func(t *testing.T, config, uid string) {
		checkTemplate(t, config, uid)
		if len(config) > 2 {
			checkTemplate(t, config, config[1:len(config)-1])
		}
	})
}

func TestTextHasherRemembersTheLast(t *testing.T) {
	var h TextHasher
	for _, s := range []string{"a", "a", "b", "a", ""} {
		if got := h.Hash(s); got != HashConfig([]byte(s)) {
			t.Fatalf("Hash(%q) = %s", s, got)
		}
	}
}
