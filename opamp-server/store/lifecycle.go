package store

import "errors"

// ErrClosed is returned (wrapped) by every method of a closed store.
var ErrClosed = errors.New("store closed")

// ChangeResync tells a watcher that changes may have been missed (its
// channel was full, or a PostgreSQL store lost its notification connection
// and reconnected): re-read everything it cares about. Its ID is empty.
const ChangeResync ChangeKind = "resync"
