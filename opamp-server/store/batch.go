package store

import "fmt"

// MaxBatchKeys bounds the keys of one batch read: a page of agents.
const MaxBatchKeys = MaxPageLimit

// ValidateKeys checks the keys of a batch read.
func ValidateKeys(field string, keys []string) error {
	if len(keys) > MaxBatchKeys {
		return fmt.Errorf("%w: %d %ss; the limit is %d", ErrInvalid, len(keys), field, MaxBatchKeys)
	}
	for _, k := range keys {
		if err := ValidateKey(field, k); err != nil {
			return err
		}
	}
	return nil
}

// BatchError names item i of a batch of n in err; a batch of one is not
// named, so a single write reads as it always did.
func BatchError(i, n int, err error) error {
	if n == 1 {
		return err
	}
	return fmt.Errorf("item %d of %d: %w", i+1, n, err)
}
