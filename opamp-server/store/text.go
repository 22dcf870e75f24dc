package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxKeyLength is the longest key (instance UID, experiment ID, sample name
// or variant) a store accepts, in bytes. It keeps keys indexable and change
// notifications far below PostgreSQL's 8000-byte NOTIFY payload limit.
const MaxKeyLength = 256

// checker validates the strings of one record and remembers the first
// problem, named by the field's JSON path. Every string must be valid UTF-8
// without NUL bytes: PostgreSQL rejects both, and both implementations must
// accept exactly the same records.
type checker struct {
	record string
	err    error
}

func (c *checker) fail(field, format string, args ...any) {
	if c.err != nil {
		return
	}
	if c.record != "" {
		field = c.record + " " + field
	}
	c.err = fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
}

// text checks a free-text field.
func (c *checker) text(field, s string) {
	switch {
	case !utf8.ValidString(s):
		c.fail(field, "not valid UTF-8")
	case strings.IndexByte(s, 0) >= 0:
		c.fail(field, "contains a NUL byte")
	}
}

// key checks a required identifier.
func (c *checker) key(field, s string) {
	switch {
	case s == "":
		c.fail(field, "must not be empty")
	case len(s) > MaxKeyLength:
		c.fail(field, "longer than %d bytes", MaxKeyLength)
	default:
		c.text(field, s)
	}
}

// optionalKey checks an identifier that may be empty.
func (c *checker) optionalKey(field, s string) {
	if s != "" {
		c.key(field, s)
	}
}

// time checks that t is within years 1 to 9999 in UTC: the range both
// stores can encode (JSON's RFC 3339, microsecond keys, timestamptz). The zero
// time is in range.
func (c *checker) time(field string, t time.Time) {
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		c.fail(field, "%s is outside years 1 to 9999", t.Format(time.RFC3339))
	}
}

// digest checks a SHA-256 digest in its stored form: 64 lower-case hex
// characters.
func (c *checker) digest(field, s string) {
	if len(s) != 64 || strings.TrimLeft(s, "0123456789abcdef") != "" {
		c.fail(field, "must be 64 lower-case hex characters")
	}
}

// strMap checks the keys and values of a string map.
func (c *checker) strMap(field string, m map[string]string) {
	for k, v := range m {
		c.text(field+" key", k)
		c.text(field+"["+strconv.Quote(k)+"]", v)
	}
}

// ValidateTime checks a time given to a query (see checker.time).
func ValidateTime(field string, t time.Time) error {
	var c checker
	c.time(field, t)
	return c.err
}

// ValidateKey checks an identifier given to a lookup (an instance UID or an
// experiment ID), so a malformed one reports ErrInvalid rather than
// ErrNotFound. field names it in the error.
func ValidateKey(field, s string) error {
	var c checker
	c.key(field, s)
	return c.err
}
