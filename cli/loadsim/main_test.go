package loadsim

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
)

// workerEnv makes this test binary act as the phoenix binary when the
// supervisor under test re-executes it as a worker.
const workerEnv = "PHOENIX_LOADSIM_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		root := &cobra.Command{Use: "phoenix", SilenceUsage: true}
		root.AddCommand(NewCmd(cmdutil.System()))
		root.SetArgs(os.Args[1:])
		if err := root.ExecuteContext(context.Background()); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// syncWriter collects progress written by the supervisor's goroutine.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
