// Package logsafe caps how verbose the manager's logger can get. client-go logs the bodies of API
// requests and responses at verbosity 8 and above (hex dumps and base64 of Secrets among them)
// through the logger it finds in the request's context, which is the manager's. No verbosity flag
// may turn the operator into a token leak, so levels above MaxVerbosity are dropped, whatever
// --zap-log-level says.
package logsafe

import "github.com/go-logr/logr"

// MaxVerbosity is the highest V-level that is ever logged. client-go logs request URLs at 6,
// headers at 7 and bodies at 8; the operator's own detail is at 1.
const MaxVerbosity = 5

// Cap returns l with every V-level above maxLevel dropped.
func Cap(l logr.Logger, maxLevel int) logr.Logger {
	sink := l.GetSink()
	if sink == nil {
		return l
	}
	return logr.New(&capSink{sink: withCallDepth(sink, 1), max: maxLevel})
}

type capSink struct {
	sink logr.LogSink
	max  int
}

func (c *capSink) Init(info logr.RuntimeInfo) { c.sink.Init(info) }

func (c *capSink) Enabled(level int) bool { return level <= c.max && c.sink.Enabled(level) }

func (c *capSink) Info(level int, msg string, kv ...any) {
	if level <= c.max {
		c.sink.Info(level, msg, kv...)
	}
}

func (c *capSink) Error(err error, msg string, kv ...any) { c.sink.Error(err, msg, kv...) }

func (c *capSink) WithValues(kv ...any) logr.LogSink {
	return &capSink{sink: c.sink.WithValues(kv...), max: c.max}
}

func (c *capSink) WithName(name string) logr.LogSink {
	return &capSink{sink: c.sink.WithName(name), max: c.max}
}

// WithCallDepth keeps caller information right through the wrapper.
func (c *capSink) WithCallDepth(depth int) logr.LogSink {
	return &capSink{sink: withCallDepth(c.sink, depth), max: c.max}
}

func withCallDepth(s logr.LogSink, depth int) logr.LogSink {
	if cd, ok := s.(logr.CallDepthLogSink); ok {
		return cd.WithCallDepth(depth)
	}
	return s
}
