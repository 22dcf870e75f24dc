package cmdutil // import "github.com/phoenix/platform/cli/cmdutil"

import "errors"

// ErrSilent is returned by a command that has already explained its failure
// on its output; main exits non-zero without printing it again.
var ErrSilent = errors.New("silent error")
