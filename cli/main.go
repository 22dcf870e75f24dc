// Command phoenix is the Phoenix command-line tool: it validates collector
// configurations, runs the control-plane server and drives experiments.
package main

import (
	"os"

	"github.com/phoenix/platform/cli/cmd/root"
)

func main() {
	os.Exit(root.Main(os.Args[1:]))
}
