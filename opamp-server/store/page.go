package store

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"
)

// Page sizes.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// PageLimit returns the number of records p asks for: DefaultPageLimit for
// 0, capped at MaxPageLimit; a negative limit is ErrInvalid.
func PageLimit(p Page) (int, error) {
	switch {
	case p.Limit < 0:
		return 0, fmt.Errorf("%w: page limit: %d is negative", ErrInvalid, p.Limit)
	case p.Limit == 0:
		return DefaultPageLimit, nil
	case p.Limit > MaxPageLimit:
		return MaxPageLimit, nil
	}
	return p.Limit, nil
}

// PageArgs checks a listing's arguments in the order every implementation
// reports them: the page limit, the cursor, then the filter (filterErr, its
// validation's result).
func PageArgs(p Page, filterErr error) (limit int, cur Cursor, err error) {
	if limit, err = PageLimit(p); err != nil {
		return 0, Cursor{}, err
	}
	if cur, err = DecodeCursor(p.After); err != nil {
		return 0, Cursor{}, err
	}
	return limit, cur, filterErr
}

// Cursor is the decoded form of Page.After: the sort key of the last record
// of the previous page. Agents are keyed by ID (their instance UID) alone,
// experiments by CreatedAt then ID. Both implementations share the encoding,
// so cursors are opaque to callers but portable between stores.
type Cursor struct {
	Time time.Time
	ID   string
}

const cursorVersion = 1

// Encode returns the cursor's opaque text: base64url of a version byte, the
// time in microseconds since the Unix epoch (big-endian) and the ID.
func (c Cursor) Encode() string {
	b := make([]byte, 9, 9+len(c.ID))
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:], uint64(c.Time.UnixMicro()))
	return base64.RawURLEncoding.EncodeToString(append(b, c.ID...))
}

// DecodeCursor decodes Page.After; "" is the zero Cursor (the first page).
// Malformed text is ErrInvalid.
func DecodeCursor(after string) (Cursor, error) {
	if after == "" {
		return Cursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(after)
	if err != nil || len(b) < 9 || b[0] != cursorVersion {
		return Cursor{}, fmt.Errorf("%w: page after: malformed cursor", ErrInvalid)
	}
	us := int64(binary.BigEndian.Uint64(b[1:9]))
	return Cursor{Time: time.UnixMicro(us).UTC(), ID: string(b[9:])}, nil
}
