// Copyright The otel-streamslo Authors
// SPDX-License-Identifier: Apache-2.0

package streamsloprocessor

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otel-streamslo/otel-streamslo/collector/streamsloprocessor/internal/metadata"
)

func defaultCfg() *Config { return createDefaultConfig().(*Config) }

// run processes a single span built by build and returns it.
func run(t *testing.T, cfg *Config, build func(ptrace.Span)) ptrace.Span {
	t.Helper()
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("chat gpt-4o")
	span.SetKind(ptrace.SpanKindClient)
	build(span)
	p := newStreamSLOProcessor(cfg, zap.NewNop())
	out, err := p.processTraces(context.Background(), td)
	require.NoError(t, err)
	require.Equal(t, 1, out.SpanCount())
	return out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
}

func str(t *testing.T, m pcommon.Map, k string) string {
	t.Helper()
	v, ok := m.Get(k)
	if !ok {
		return "<absent>"
	}
	return v.AsString()
}

func ours(reason string, extra func(pcommon.Map)) func(ptrace.Span) {
	return func(s ptrace.Span) {
		a := s.Attributes()
		a.PutStr("gen_ai.operation.name", "chat")
		a.PutStr("gen_ai.provider.name", "openai")
		a.PutBool(AttrGenAIRequestStream, true)
		a.PutStr(AttrTerminationReason, reason)
		a.PutDouble(AttrTimeToFirstToken, 0.25)
		if extra != nil {
			extra(a)
		}
	}
}

func TestReasonTimesPolicy(t *testing.T) {
	custom := defaultCfg()
	custom.GoodReasons = []string{ReasonCompleted}
	custom.ExcludedReasons = []string{ReasonLength, ReasonIdleTimeout, ReasonRequestFailed, ReasonAppError}

	empty := defaultCfg()
	empty.GoodReasons = nil
	empty.ExcludedReasons = nil

	policies := map[string]*Config{"default": defaultCfg(), "custom": custom, "empty": empty}
	// expected outcome per policy, for a reason with no HTTP status attribute.
	want := map[string]map[string]string{
		ReasonCompleted:         {"default": "good", "custom": "good", "empty": "bad"},
		ReasonLength:            {"default": "good", "custom": "excluded", "empty": "bad"},
		ReasonContentFilter:     {"default": "good", "custom": "bad", "empty": "bad"},
		ReasonServerErrorEvent:  {"default": "bad", "custom": "bad", "empty": "bad"},
		ReasonConnectionDropped: {"default": "bad", "custom": "bad", "empty": "bad"},
		ReasonIdleTimeout:       {"default": "bad", "custom": "excluded", "empty": "bad"},
		ReasonTruncated:         {"default": "bad", "custom": "bad", "empty": "bad"},
		ReasonRequestFailed:     {"default": "bad", "custom": "excluded", "empty": "bad"},
		ReasonClientCancelled:   {"default": "excluded", "custom": "bad", "empty": "bad"},
		ReasonClientAbandoned:   {"default": "excluded", "custom": "bad", "empty": "bad"},
		ReasonConsumerError:     {"default": "excluded", "custom": "bad", "empty": "bad"},
		ReasonUpstreamFailed:    {"default": "bad", "custom": "bad", "empty": "bad"},
		ReasonAppError:          {"default": "bad", "custom": "excluded", "empty": "bad"},
	}
	require.Len(t, want, len(KnownReasons))
	for _, reason := range KnownReasons {
		for pname, cfg := range policies {
			t.Run(reason+"/"+pname, func(t *testing.T) {
				span := run(t, cfg, ours(reason, nil))
				a := span.Attributes()
				exp := want[reason][pname]
				assert.Equal(t, exp, str(t, a, AttrSLIOutcome))
				assert.Equal(t, "good", str(t, a, AttrSLILatency))
				assert.Equal(t, reason, str(t, a, AttrTerminationReason))
				assert.Equal(t, "<absent>", str(t, a, AttrInferred), "our own verdicts are not inferred")
				if exp == "bad" {
					assert.Equal(t, ptrace.StatusCodeError, span.Status().Code())
					assert.Equal(t, reason, span.Status().Message())
					assert.Equal(t, reason, str(t, a, AttrErrorType))
				} else {
					assert.Equal(t, ptrace.StatusCodeUnset, span.Status().Code())
					assert.Equal(t, "<absent>", str(t, a, AttrErrorType))
				}
			})
		}
	}
}

// TestServerSpans: SERVER spans (the app's own streamed responses) carry the
// downstream reasons; default outcomes per DESIGN.md "Server side".
func TestServerSpans(t *testing.T) {
	tests := []struct {
		reason string
		status int64
		want   string
	}{
		{ReasonCompleted, 200, "good"},
		{ReasonUpstreamFailed, 200, "bad"},
		{ReasonServerErrorEvent, 200, "bad"},
		{ReasonAppError, 200, "bad"},
		{ReasonRequestFailed, 500, "bad"},
		{ReasonRequestFailed, 503, "bad"},
		{ReasonRequestFailed, 429, "bad"},
		{ReasonRequestFailed, 400, "excluded"},
		{ReasonRequestFailed, 404, "excluded"},
		{ReasonRequestFailed, 422, "excluded"},
		{ReasonClientCancelled, 200, "excluded"},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.reason] = true
		t.Run(fmt.Sprintf("%s/%d", tt.reason, tt.status), func(t *testing.T) {
			span := run(t, defaultCfg(), func(s ptrace.Span) {
				s.SetKind(ptrace.SpanKindServer)
				s.SetName("POST /chat")
				s.Attributes().PutStr(AttrTerminationReason, tt.reason)
				s.Attributes().PutInt(AttrHTTPResponseStatusCode, tt.status)
			})
			a := span.Attributes()
			assert.Equal(t, tt.want, str(t, a, AttrSLIOutcome))
			assert.Equal(t, "excluded", str(t, a, AttrSLILatency))
			if tt.want == "bad" {
				assert.Equal(t, ptrace.StatusCodeError, span.Status().Code())
				assert.Equal(t, tt.reason, str(t, a, AttrErrorType), "a known reason, not _OTHER")
			} else {
				assert.Equal(t, ptrace.StatusCodeUnset, span.Status().Code())
				assert.Equal(t, "<absent>", str(t, a, AttrErrorType))
			}
		})
	}
	for _, r := range ServerReasons {
		assert.True(t, covered[r], "downstream reason %s not covered", r)
	}
}

func TestRequestFailedStatusSplit(t *testing.T) {
	tests := []struct {
		name   string
		status func(pcommon.Map)
		want   string
	}{
		{"no status", func(pcommon.Map) {}, "bad"},
		{"400", func(a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, 400) }, "excluded"},
		{"401", func(a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, 401) }, "excluded"},
		{"404", func(a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, 404) }, "excluded"},
		{"408", func(a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, 408) }, "excluded"},
		{"422", func(a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, 422) }, "excluded"},
		{"429", func(a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, 429) }, "bad"},
		{"499", func(a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, 499) }, "excluded"},
		{"500", func(a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, 500) }, "bad"},
		{"503", func(a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, 503) }, "bad"},
		{"529", func(a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, 529) }, "bad"},
		{"200 (odd)", func(a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, 200) }, "bad"},
		{"string 404", func(a pcommon.Map) { a.PutStr(AttrHTTPResponseStatusCode, "404") }, "excluded"},
		{"string 429", func(a pcommon.Map) { a.PutStr(AttrHTTPResponseStatusCode, "429") }, "bad"},
		{"double 403", func(a pcommon.Map) { a.PutDouble(AttrHTTPResponseStatusCode, 403) }, "excluded"},
		{"garbage string", func(a pcommon.Map) { a.PutStr(AttrHTTPResponseStatusCode, "four-oh-four") }, "bad"},
		{"NaN", func(a pcommon.Map) { a.PutDouble(AttrHTTPResponseStatusCode, math.NaN()) }, "bad"},
		{"bool", func(a pcommon.Map) { a.PutBool(AttrHTTPResponseStatusCode, true) }, "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			span := run(t, defaultCfg(), ours(ReasonRequestFailed, tt.status))
			assert.Equal(t, tt.want, str(t, span.Attributes(), AttrSLIOutcome))
			if tt.want == "bad" {
				assert.Equal(t, ptrace.StatusCodeError, span.Status().Code())
			} else {
				assert.Equal(t, ptrace.StatusCodeUnset, span.Status().Code())
			}
		})
	}
}

func TestRequestFailedExplicitListOverridesSplit(t *testing.T) {
	good := defaultCfg()
	good.GoodReasons = append(good.GoodReasons, ReasonRequestFailed)
	excl := defaultCfg()
	excl.ExcludedReasons = append(excl.ExcludedReasons, ReasonRequestFailed)
	for _, code := range []int64{404, 429, 503} {
		set := func(a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, code) }
		assert.Equal(t, "good", str(t, run(t, good, ours(ReasonRequestFailed, set)).Attributes(), AttrSLIOutcome), code)
		assert.Equal(t, "excluded", str(t, run(t, excl, ours(ReasonRequestFailed, set)).Attributes(), AttrSLIOutcome), code)
	}
}

func TestLatencySLI(t *testing.T) {
	tests := []struct {
		name    string
		set     func(pcommon.Map)
		want    string
		wantTTF string // streamslo.time_to_first_token afterwards
	}{
		{"fast", func(a pcommon.Map) { a.PutDouble(AttrTimeToFirstToken, 0.4) }, "good", "0.4"},
		{"at threshold", func(a pcommon.Map) { a.PutDouble(AttrTimeToFirstToken, 2.0) }, "good", "2"},
		{"slow", func(a pcommon.Map) { a.PutDouble(AttrTimeToFirstToken, 2.0001) }, "bad", "2.0001"},
		{"int seconds", func(a pcommon.Map) { a.PutInt(AttrTimeToFirstToken, 3) }, "bad", "3"},
		{"zero", func(a pcommon.Map) { a.PutDouble(AttrTimeToFirstToken, 0) }, "good", "0"},
		{"no first token", func(a pcommon.Map) { a.Remove(AttrTimeToFirstToken) }, "excluded", "<absent>"},
		{"semconv fallback", func(a pcommon.Map) {
			a.Remove(AttrTimeToFirstToken)
			a.PutDouble(AttrGenAIResponseTTFC, 5.5)
		}, "bad", "5.5"},
		{"ours wins over semconv", func(a pcommon.Map) {
			a.PutDouble(AttrTimeToFirstToken, 1)
			a.PutDouble(AttrGenAIResponseTTFC, 5.5)
		}, "good", "1"},
		{"string (malformed)", func(a pcommon.Map) { a.PutStr(AttrTimeToFirstToken, "0.5") }, "excluded", "0.5"},
		{"negative", func(a pcommon.Map) { a.PutDouble(AttrTimeToFirstToken, -1) }, "excluded", "-1"},
		{"NaN", func(a pcommon.Map) { a.PutDouble(AttrTimeToFirstToken, math.NaN()) }, "excluded", "NaN"},
		{"+Inf", func(a pcommon.Map) { a.PutDouble(AttrTimeToFirstToken, math.Inf(1)) }, "excluded", "Infinity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			span := run(t, defaultCfg(), ours(ReasonCompleted, tt.set))
			assert.Equal(t, tt.want, str(t, span.Attributes(), AttrSLILatency))
			assert.Equal(t, tt.wantTTF, str(t, span.Attributes(), AttrTimeToFirstToken))
		})
	}
	t.Run("custom threshold", func(t *testing.T) {
		cfg := defaultCfg()
		cfg.TimeToFirstTokenThreshold = 500 * time.Millisecond
		span := run(t, cfg, ours(ReasonCompleted, func(a pcommon.Map) { a.PutDouble(AttrTimeToFirstToken, 0.6) }))
		assert.Equal(t, "bad", str(t, span.Attributes(), AttrSLILatency))
	})
}

func TestSpanStatusAndErrorType(t *testing.T) {
	t.Run("existing error.type kept", func(t *testing.T) {
		span := run(t, defaultCfg(), ours(ReasonServerErrorEvent, func(a pcommon.Map) { a.PutStr(AttrErrorType, "overloaded_error") }))
		assert.Equal(t, "overloaded_error", str(t, span.Attributes(), AttrErrorType))
		assert.Equal(t, ptrace.StatusCodeError, span.Status().Code())
		assert.Equal(t, ReasonServerErrorEvent, span.Status().Message())
	})
	t.Run("existing error status message kept", func(t *testing.T) {
		span := run(t, defaultCfg(), func(s ptrace.Span) {
			ours(ReasonConnectionDropped, nil)(s)
			s.Status().SetCode(ptrace.StatusCodeError)
			s.Status().SetMessage("RemoteProtocolError: peer closed connection")
		})
		assert.Equal(t, "RemoteProtocolError: peer closed connection", span.Status().Message())
		assert.Equal(t, ReasonConnectionDropped, str(t, span.Attributes(), AttrErrorType))
	})
	t.Run("empty error status message filled", func(t *testing.T) {
		span := run(t, defaultCfg(), func(s ptrace.Span) {
			ours(ReasonIdleTimeout, nil)(s)
			s.Status().SetCode(ptrace.StatusCodeError)
		})
		assert.Equal(t, ReasonIdleTimeout, span.Status().Message())
	})
	t.Run("ok status overridden for bad stream", func(t *testing.T) {
		span := run(t, defaultCfg(), func(s ptrace.Span) {
			ours(ReasonTruncated, nil)(s)
			s.Status().SetCode(ptrace.StatusCodeOk)
		})
		assert.Equal(t, ptrace.StatusCodeError, span.Status().Code())
	})
	t.Run("set_span_status false", func(t *testing.T) {
		cfg := defaultCfg()
		cfg.SetSpanStatus = false
		span := run(t, cfg, ours(ReasonTruncated, nil))
		assert.Equal(t, "bad", str(t, span.Attributes(), AttrSLIOutcome))
		assert.Equal(t, ptrace.StatusCodeUnset, span.Status().Code())
		assert.Equal(t, "<absent>", str(t, span.Attributes(), AttrErrorType))
	})
	t.Run("good stream keeps error status of its own", func(t *testing.T) {
		span := run(t, defaultCfg(), func(s ptrace.Span) {
			ours(ReasonCompleted, nil)(s)
			s.Status().SetCode(ptrace.StatusCodeError)
			s.Status().SetMessage("theirs")
		})
		assert.Equal(t, "good", str(t, span.Attributes(), AttrSLIOutcome))
		assert.Equal(t, "theirs", span.Status().Message())
	})
	t.Run("outcome from instrumentation is overwritten by policy", func(t *testing.T) {
		span := run(t, defaultCfg(), ours(ReasonTruncated, func(a pcommon.Map) { a.PutStr(AttrSLIOutcome, "good") }))
		assert.Equal(t, "bad", str(t, span.Attributes(), AttrSLIOutcome))
	})
}

func foreign(extra func(ptrace.Span, pcommon.Map)) func(ptrace.Span) {
	return func(s ptrace.Span) {
		a := s.Attributes()
		a.PutStr("gen_ai.operation.name", "chat")
		a.PutStr("gen_ai.system", "openai")
		a.PutBool(AttrGenAIRequestStream, true)
		extra(s, a)
	}
}

func finish(a pcommon.Map, reasons ...string) {
	s := a.PutEmptySlice(AttrGenAIResponseFinishReasons)
	for _, r := range reasons {
		s.AppendEmpty().SetStr(r)
	}
}

func TestForeignInstrumentationInference(t *testing.T) {
	tests := []struct {
		name        string
		build       func(ptrace.Span, pcommon.Map)
		wantReason  string
		wantOutcome string
		wantLatency string
		wantErrType string
	}{
		{"200 stop", func(_ ptrace.Span, a pcommon.Map) {
			a.PutInt(AttrHTTPResponseStatusCode, 200)
			finish(a, "stop")
		}, "completed", "good", "excluded", "<absent>"},
		{"unset status tool_calls", func(_ ptrace.Span, a pcommon.Map) { finish(a, "tool_calls") }, "completed", "good", "excluded", "<absent>"},
		{"length", func(_ ptrace.Span, a pcommon.Map) { finish(a, "length") }, "length", "good", "excluded", "<absent>"},
		{"max_tokens (anthropic)", func(_ ptrace.Span, a pcommon.Map) { finish(a, "max_tokens") }, "length", "good", "excluded", "<absent>"},
		{"model_context_window_exceeded (anthropic)", func(_ ptrace.Span, a pcommon.Map) { finish(a, "model_context_window_exceeded") }, "length", "good", "excluded", "<absent>"},
		{"max_output_tokens (openai responses)", func(_ ptrace.Span, a pcommon.Map) { finish(a, "max_output_tokens") }, "length", "good", "excluded", "<absent>"},
		{"end_turn (anthropic)", func(_ ptrace.Span, a pcommon.Map) { finish(a, "end_turn") }, "completed", "good", "excluded", "<absent>"},
		{"error finish (openai)", func(_ ptrace.Span, a pcommon.Map) { finish(a, "error") }, "server_error_event", "bad", "excluded", "server_error_event"},
		{"n=2 content_filter+error, error wins", func(_ ptrace.Span, a pcommon.Map) { finish(a, "content_filter", "error") }, "server_error_event", "bad", "excluded", "server_error_event"},
		{"unlisted finish name", func(_ ptrace.Span, a pcommon.Map) { finish(a, "some_new_reason") }, "completed", "good", "excluded", "<absent>"},
		{"content_filter", func(_ ptrace.Span, a pcommon.Map) { finish(a, "content_filter") }, "content_filter", "good", "excluded", "<absent>"},
		{"refusal", func(_ ptrace.Span, a pcommon.Map) { finish(a, "refusal") }, "content_filter", "good", "excluded", "<absent>"},
		{"n=3 mixed, content_filter wins", func(_ ptrace.Span, a pcommon.Map) { finish(a, "stop", "length", "content_filter") }, "content_filter", "good", "excluded", "<absent>"},
		{"n=2 stop+length", func(_ ptrace.Span, a pcommon.Map) { finish(a, "stop", "length") }, "length", "good", "excluded", "<absent>"},
		{"single string finish reason", func(_ ptrace.Span, a pcommon.Map) { a.PutStr(AttrGenAIResponseFinishReasons, "length") }, "length", "good", "excluded", "<absent>"},
		{"200 without finish reasons", func(_ ptrace.Span, a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, 200) }, "truncated", "bad", "excluded", "truncated"},
		{"empty finish reasons", func(_ ptrace.Span, a pcommon.Map) { finish(a) }, "truncated", "bad", "excluded", "truncated"},
		{"empty string finish reason", func(_ ptrace.Span, a pcommon.Map) { a.PutStr(AttrGenAIResponseFinishReasons, "") }, "truncated", "bad", "excluded", "truncated"},
		{"int finish reasons", func(_ ptrace.Span, a pcommon.Map) { a.PutInt(AttrGenAIResponseFinishReasons, 1) }, "truncated", "bad", "excluded", "truncated"},
		{"500", func(s ptrace.Span, a pcommon.Map) {
			a.PutInt(AttrHTTPResponseStatusCode, 500)
			s.Status().SetCode(ptrace.StatusCodeError)
			a.PutStr(AttrErrorType, "InternalServerError")
		}, "request_failed", "bad", "excluded", "InternalServerError"},
		{"429 status ok (odd)", func(_ ptrace.Span, a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, 429) }, "request_failed", "bad", "excluded", "request_failed"},
		{"404 excluded", func(s ptrace.Span, a pcommon.Map) {
			a.PutInt(AttrHTTPResponseStatusCode, 404)
			s.Status().SetCode(ptrace.StatusCodeError)
		}, "request_failed", "excluded", "excluded", "<absent>"},
		{"error without http status", func(s ptrace.Span, a pcommon.Map) {
			s.Status().SetCode(ptrace.StatusCodeError)
			a.PutStr(AttrErrorType, "APIConnectionError")
		}, "request_failed", "bad", "excluded", "APIConnectionError"},
		{"error after 200", func(s ptrace.Span, a pcommon.Map) {
			a.PutInt(AttrHTTPResponseStatusCode, 200)
			s.Status().SetCode(ptrace.StatusCodeError)
			finish(a, "stop")
		}, "server_error_event", "bad", "excluded", "server_error_event"},
		{"semconv TTFC", func(_ ptrace.Span, a pcommon.Map) {
			finish(a, "stop")
			a.PutDouble(AttrGenAIResponseTTFC, 0.8)
		}, "completed", "good", "good", "<absent>"},
		{"semconv TTFC slow", func(_ ptrace.Span, a pcommon.Map) {
			finish(a, "stop")
			a.PutDouble(AttrGenAIResponseTTFC, 3.5)
		}, "completed", "good", "bad", "<absent>"},
		{"stream as string true", func(_ ptrace.Span, a pcommon.Map) {
			a.PutStr(AttrGenAIRequestStream, "true")
			finish(a, "stop")
		}, "completed", "good", "excluded", "<absent>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			span := run(t, defaultCfg(), foreign(tt.build))
			a := span.Attributes()
			assert.Equal(t, tt.wantReason, str(t, a, AttrTerminationReason))
			assert.Equal(t, tt.wantOutcome, str(t, a, AttrSLIOutcome))
			assert.Equal(t, tt.wantLatency, str(t, a, AttrSLILatency))
			assert.Equal(t, tt.wantErrType, str(t, a, AttrErrorType))
			assert.Equal(t, "true", str(t, a, AttrInferred))
			if tt.wantOutcome == "bad" {
				assert.Equal(t, ptrace.StatusCodeError, span.Status().Code())
			}
		})
	}
}

// buildUnrelated fills td with spans that the processor must not touch.
func buildUnrelated(td ptrace.Traces) {
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "api")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("opentelemetry.instrumentation.httpx")

	s := ss.Spans().AppendEmpty()
	s.SetName("POST")
	s.SetKind(ptrace.SpanKindClient)
	s.SetTraceID(pcommon.TraceID{1, 2, 3})
	s.SetSpanID(pcommon.SpanID{4, 5, 6})
	s.Attributes().PutInt(AttrHTTPResponseStatusCode, 500)
	s.Status().SetCode(ptrace.StatusCodeError)

	s = ss.Spans().AppendEmpty()
	s.SetName("chat gpt-4o") // GenAI but not streaming
	s.Attributes().PutStr("gen_ai.operation.name", "chat")
	s.Attributes().PutBool(AttrGenAIRequestStream, false)
	finish(s.Attributes(), "stop")

	s = ss.Spans().AppendEmpty()
	s.SetName("chat gpt-4o") // GenAI, stream attribute absent
	s.Attributes().PutStr("gen_ai.operation.name", "chat")
	s.Attributes().PutInt(AttrHTTPResponseStatusCode, 200)

	s = ss.Spans().AppendEmpty()
	s.SetName("weird stream value")
	s.Attributes().PutInt(AttrGenAIRequestStream, 1)
	s.Attributes().PutStr(AttrGenAIRequestStream+"x", "true")
	s.Events().AppendEmpty().SetName("e")
	s.Links().AppendEmpty().SetTraceID(pcommon.TraceID{9})

	s = ss.Spans().AppendEmpty()
	s.SetName("stream string false")
	s.Attributes().PutStr(AttrGenAIRequestStream, "false")
}

func TestPassThroughByteIdentical(t *testing.T) {
	td := ptrace.NewTraces()
	buildUnrelated(td)
	m := &ptrace.ProtoMarshaler{}
	before, err := m.MarshalTraces(td)
	require.NoError(t, err)

	sink := new(consumertest.TracesSink)
	proc, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), defaultCfg(), sink)
	require.NoError(t, err)
	require.NoError(t, proc.ConsumeTraces(context.Background(), td))
	require.Len(t, sink.AllTraces(), 1)
	after, err := m.MarshalTraces(sink.AllTraces()[0])
	require.NoError(t, err)
	assert.Equal(t, before, after, "non-streaming and non-GenAI spans must pass through byte-identical")
}

func TestMixedBatchOnlyTouchesStreamingSpans(t *testing.T) {
	td := ptrace.NewTraces()
	buildUnrelated(td)
	want := ptrace.NewTraces()
	buildUnrelated(want)

	// add one of ours to the same scope
	s := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty()
	ours(ReasonConnectionDropped, nil)(s)

	p := newStreamSLOProcessor(defaultCfg(), zap.NewNop())
	out, err := p.processTraces(context.Background(), td)
	require.NoError(t, err)
	require.Equal(t, 6, out.SpanCount())
	spans := out.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	wantSpans := want.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < wantSpans.Len(); i++ {
		assert.Equal(t, wantSpans.At(i).Attributes().AsRaw(), spans.At(i).Attributes().AsRaw(), i)
		assert.Equal(t, wantSpans.At(i).Status().Code(), spans.At(i).Status().Code(), i)
	}
	assert.Equal(t, "bad", str(t, spans.At(5).Attributes(), AttrSLIOutcome))
}

func TestMalformedReasons(t *testing.T) {
	tests := []struct {
		name string
		set  func(pcommon.Map)
	}{
		{"empty string", func(a pcommon.Map) { a.PutStr(AttrTerminationReason, "") }},
		{"unknown name", func(a pcommon.Map) { a.PutStr(AttrTerminationReason, "exploded") }},
		{"wrong case", func(a pcommon.Map) { a.PutStr(AttrTerminationReason, "Completed") }},
		{"int", func(a pcommon.Map) { a.PutInt(AttrTerminationReason, 3) }},
		{"double", func(a pcommon.Map) { a.PutDouble(AttrTerminationReason, 1.5) }},
		{"bool", func(a pcommon.Map) { a.PutBool(AttrTerminationReason, true) }},
		{"bytes", func(a pcommon.Map) { a.PutEmptyBytes(AttrTerminationReason).FromRaw([]byte{0xff, 0}) }},
		{"slice", func(a pcommon.Map) { a.PutEmptySlice(AttrTerminationReason).AppendEmpty().SetStr("completed") }},
		{"map", func(a pcommon.Map) { a.PutEmptyMap(AttrTerminationReason).PutStr("completed", "x") }},
		{"empty value", func(a pcommon.Map) { a.PutEmpty(AttrTerminationReason) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var span ptrace.Span
			require.NotPanics(t, func() {
				span = run(t, defaultCfg(), func(s ptrace.Span) {
					s.Attributes().PutBool(AttrGenAIRequestStream, true)
					tt.set(s.Attributes())
				})
			})
			a := span.Attributes()
			assert.Equal(t, "bad", str(t, a, AttrSLIOutcome))
			assert.Equal(t, "excluded", str(t, a, AttrSLILatency))
			assert.Equal(t, ErrorTypeOther, str(t, a, AttrErrorType))
			assert.Equal(t, ptrace.StatusCodeError, span.Status().Code())
			_, ok := a.Get(AttrTerminationReason)
			assert.True(t, ok, "the producer's reason attribute is kept")
		})
	}
}

func TestUnknownReasonLoggedOncePerNameAndBounded(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	p := newStreamSLOProcessor(defaultCfg(), zap.New(core))

	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := 0; i < 100; i++ {
		spans.AppendEmpty().Attributes().PutStr(AttrTerminationReason, "exploded")
	}
	_, err := p.processTraces(context.Background(), td)
	require.NoError(t, err)
	require.Equal(t, 1, logs.FilterMessageSnippet("unknown streamslo.termination.reason").Len())
	assert.Equal(t, "exploded", logs.All()[0].ContextMap()["reason"])

	td = ptrace.NewTraces()
	spans = td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := 0; i < 3*maxUnknownReasonsLogged; i++ {
		spans.AppendEmpty().Attributes().PutStr(AttrTerminationReason, fmt.Sprintf("weird-%d", i%(2*maxUnknownReasonsLogged)))
	}
	_, err = p.processTraces(context.Background(), td)
	require.NoError(t, err)
	_, err = p.processTraces(context.Background(), td)
	require.NoError(t, err)
	assert.Equal(t, maxUnknownReasonsLogged, logs.FilterMessage("unknown streamslo.termination.reason; counted as bad").Len())
	assert.Equal(t, 1, logs.FilterMessageSnippet("too many unknown").Len())
	assert.Len(t, p.unknownSeen, maxUnknownReasonsLogged)
}

// TestHotPathNoAllocations: once the output attributes exist (steady state of
// a span that is re-classified), processing a span allocates nothing.
func TestHotPathNoAllocations(t *testing.T) {
	p := newStreamSLOProcessor(defaultCfg(), zap.NewNop())
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	ours(ReasonCompleted, nil)(spans.AppendEmpty())
	ours(ReasonConnectionDropped, nil)(spans.AppendEmpty())
	ours(ReasonRequestFailed, func(a pcommon.Map) { a.PutInt(AttrHTTPResponseStatusCode, 404) })(spans.AppendEmpty())
	foreign(func(_ ptrace.Span, a pcommon.Map) { finish(a, "stop", "length") })(spans.AppendEmpty())
	spans.AppendEmpty().SetName("unrelated")
	_, _ = p.processTraces(context.Background(), td)
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = p.processTraces(context.Background(), td)
	})
	assert.Zero(t, allocs)
}

func TestPolicyTable(t *testing.T) {
	pol := buildPolicy(defaultCfg())
	assert.Len(t, pol, len(KnownReasons))
	assert.Equal(t, outcomeByHTTPStatus, pol[ReasonRequestFailed])
	assert.Equal(t, "good", outcomeGood.String())
	assert.Equal(t, "bad", outcomeBad.String())
	assert.Equal(t, "excluded", outcomeExcluded.String())
}
