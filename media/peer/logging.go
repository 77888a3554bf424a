package peer

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// slogFactory adapts pion's logger interface to slog, so pion's warnings
// land in the same structured log as ours. Trace goes nowhere: pion traces
// every packet.
type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLogger{f.log.With("pion", scope)}
}

type slogLogger struct{ log *slog.Logger }

func (l slogLogger) logf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l slogLogger) Trace(string)                 {}
func (l slogLogger) Tracef(string, ...any)        {}
func (l slogLogger) Debug(msg string)             { l.logf(slog.LevelDebug, "%s", msg) }
func (l slogLogger) Debugf(f string, args ...any) { l.logf(slog.LevelDebug, f, args...) }
func (l slogLogger) Info(msg string)              { l.logf(slog.LevelDebug, "%s", msg) }
func (l slogLogger) Infof(f string, args ...any)  { l.logf(slog.LevelDebug, f, args...) }
func (l slogLogger) Warn(msg string)              { l.logf(slog.LevelWarn, "%s", msg) }
func (l slogLogger) Warnf(f string, args ...any)  { l.logf(slog.LevelWarn, f, args...) }
func (l slogLogger) Error(msg string)             { l.logf(slog.LevelError, "%s", msg) }
func (l slogLogger) Errorf(f string, args ...any) { l.logf(slog.LevelError, f, args...) }
