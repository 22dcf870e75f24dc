package store

import "fmt"

// BatchError names item i of a batch of n in err; a batch of one is not
// named, so a single write reads as it always did.
func BatchError(i, n int, err error) error {
	if n == 1 {
		return err
	}
	return fmt.Errorf("item %d of %d: %w", i+1, n, err)
}
