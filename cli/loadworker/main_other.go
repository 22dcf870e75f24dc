//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "phoenix-loadworker needs Linux (process names and parent-death signals)")
	os.Exit(1)
}
