package store

import (
	"context"
	"strings"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// TextPlaceholder stands for an agent's instance UID in a stored
// configuration text, so that a fleet's texts, identical but for each
// agent's UID, are stored once. It is valid UTF-8 without NUL (PostgreSQL
// stores it as text) and unbordered: no proper prefix of it is also a
// suffix (\x01 occurs only first), so an occurrence in a template can only
// be one that TemplateText put there and expanding is exact. pgstore's
// migration 0008 spells it chr(1) || 'phoenix:instance_uid' || chr(2).
const TextPlaceholder = "\x01phoenix:instance_uid\x02"

// TemplateText returns the text to store for an agent's configuration:
// config with every occurrence of uid replaced by TextPlaceholder, and
// templated true; or config as it is and templated false when uid does not
// occur in it (nothing to share) or the placeholder already does (the
// replacement would not be reversible).
func TemplateText(config, uid string) (text string, templated bool) {
	if uid == "" || !strings.Contains(config, uid) || strings.Contains(config, TextPlaceholder) {
		return config, false
	}
	return strings.ReplaceAll(config, uid, TextPlaceholder), true
}

// ExpandText returns the configuration TemplateText(config, uid) was made
// from.
func ExpandText(text, uid string, templated bool) string {
	if !templated {
		return text
	}
	return strings.ReplaceAll(text, TextPlaceholder, uid)
}

// TextHasher hashes stored texts, remembering the last one: the
// assignments of one call usually share one template, and comparing 10 KiB
// is far cheaper than hashing it again.
type TextHasher struct {
	last, hash string
	ok         bool
}

// Hash returns the hex SHA-256 of text: the key it is stored under.
func (h *TextHasher) Hash(text string) string {
	if !h.ok || text != h.last {
		h.last, h.hash, h.ok = text, HashConfig([]byte(text)), true
	}
	return h.hash
}

// StoredText is an assignment's configuration as a store keeps it.
type StoredText struct {
	Text      string // the template, or the text itself when not templated
	Hash      string // hex SHA-256 of Text
	Templated bool
}

// StoredTexts templates and hashes each assignment's configuration.
func StoredTexts(asgs []apitypes.Assignment) []StoredText {
	var h TextHasher
	out := make([]StoredText, len(asgs))
	for i, a := range asgs {
		text, templated := TemplateText(a.Config, a.InstanceUID)
		out[i] = StoredText{Text: text, Hash: h.Hash(text), Templated: templated}
	}
	return out
}

// TextCounter is implemented by stores for tests: how many distinct texts
// they hold, and the sum of their reference counts.
type TextCounter interface {
	CountTexts(ctx context.Context) (texts int, refs int64, err error)
}
