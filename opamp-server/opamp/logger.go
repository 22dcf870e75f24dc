package opamp // import "github.com/phoenix/platform/opamp-server/opamp"

import (
	"context"
	"fmt"
	"log/slog"
)

// opampLogger adapts slog to opamp-go's logger interface.
type opampLogger struct{ l *slog.Logger }

func (o *opampLogger) Debugf(ctx context.Context, format string, v ...any) {
	o.l.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "opamp-go")
}

func (o *opampLogger) Errorf(ctx context.Context, format string, v ...any) {
	o.l.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "opamp-go")
}
