// Copyright The otel-streamslo Authors
// SPDX-License-Identifier: Apache-2.0

package streamsloprocessor

import (
	"context"
	"math"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

// putFuzzValue writes key with a value whose type is chosen by kind.
func putFuzzValue(m pcommon.Map, key string, kind uint8, s string, i int64, f float64, b bool) {
	switch kind % 9 {
	case 0: // absent
	case 1:
		m.PutStr(key, s)
	case 2:
		m.PutInt(key, i)
	case 3:
		m.PutDouble(key, f)
	case 4:
		m.PutBool(key, b)
	case 5:
		m.PutEmptyBytes(key).FromRaw([]byte(s))
	case 6:
		sl := m.PutEmptySlice(key)
		sl.AppendEmpty().SetStr(s)
		sl.AppendEmpty().SetInt(i)
	case 7:
		m.PutEmptyMap(key).PutStr(s, s)
	case 8:
		m.PutEmpty(key)
	}
}

func FuzzProcessAttributes(f *testing.F) {
	f.Add(uint8(1), "completed", int64(200), 0.5, true, uint8(2), uint8(3), uint8(4), uint8(6), uint8(0))
	f.Add(uint8(1), "request_failed", int64(404), 2.5, false, uint8(2), uint8(3), uint8(4), uint8(0), uint8(2))
	f.Add(uint8(0), "stop", int64(500), math.NaN(), true, uint8(2), uint8(3), uint8(4), uint8(1), uint8(0))
	f.Add(uint8(2), "", int64(-1), math.Inf(1), true, uint8(1), uint8(1), uint8(1), uint8(6), uint8(1))
	f.Add(uint8(0), "length", int64(429), -1.0, true, uint8(1), uint8(2), uint8(1), uint8(1), uint8(2))
	f.Add(uint8(0), "max_tokens", int64(0), 0.1, true, uint8(0), uint8(0), uint8(81), uint8(81), uint8(0))
	f.Add(uint8(0), "BadRequestError: x", int64(0), 0.1, true, uint8(0), uint8(0), uint8(4*9), uint8(0), uint8(2))
	f.Fuzz(func(t *testing.T, reasonKind uint8, s string, i int64, fl float64, b bool,
		httpKind, ttftKind, streamKind, finishKind, statusCode uint8,
	) {
		td := ptrace.NewTraces()
		spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
		span := spans.AppendEmpty()
		span.Status().SetCode(ptrace.StatusCode(statusCode % 3))
		a := span.Attributes()
		putFuzzValue(a, AttrTerminationReason, reasonKind, s, i, fl, b)
		putFuzzValue(a, AttrHTTPResponseStatusCode, httpKind, s, i, fl, b)
		putFuzzValue(a, AttrTimeToFirstToken, ttftKind, s, i, fl, b)
		putFuzzValue(a, AttrGenAIResponseTTFC, ttftKind/9, s, i, fl, b)
		putFuzzValue(a, AttrGenAIRequestStream, streamKind, s, i, fl, b)
		putFuzzValue(a, AttrGenAIResponseFinishReasons, finishKind, s, i, fl, b)
		putFuzzValue(a, AttrErrorType, finishKind/9, s, i, fl, b)
		// peers' dialects: OpenLLMetry flag, OpenInference parameters (JSON string) and finish
		putFuzzValue(a, AttrOpenLLMetryGenAIIsStreaming, streamKind/9, s, i, fl, b)
		putFuzzValue(a, AttrOpenInferenceInvocationParameters, streamKind/81, `{"stream": true, "x": "`+s+`"}`, i, fl, b)
		putFuzzValue(a, AttrOpenInferenceFinishReason, finishKind/81, s, i, fl, b)
		span.Status().SetMessage(s)
		spans.AppendEmpty().SetName("unrelated")

		before := a.Len()
		cfg := createDefaultConfig().(*Config)
		cfg.SetSpanStatus = b
		p := newStreamSLOProcessor(cfg, zap.NewNop())
		out, err := p.processTraces(context.Background(), td)
		if err != nil {
			t.Fatalf("processTraces returned an error: %v", err)
		}
		if out.SpanCount() != 2 {
			t.Fatalf("spans dropped: got %d, want 2", out.SpanCount())
		}
		got := out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes()
		if got.Len() < before {
			t.Fatalf("attributes dropped: %d -> %d", before, got.Len())
		}
		if o, ok := got.Get(AttrSLIOutcome); ok {
			switch o.Str() {
			case OutcomeGood, OutcomeBad, OutcomeExcluded:
			default:
				t.Fatalf("invalid outcome %q", o.Str())
			}
			l, ok := got.Get(AttrSLILatency)
			if !ok {
				t.Fatal("outcome without latency")
			}
			switch l.Str() {
			case OutcomeGood, OutcomeBad, OutcomeExcluded:
			default:
				t.Fatalf("invalid latency %q", l.Str())
			}
			if r, ok := got.Get(AttrTerminationReason); !ok || r.Type() == pcommon.ValueTypeEmpty && reasonKind%9 != 8 {
				t.Fatal("classified span without a termination reason")
			}
		}
		if _, inferred := got.Get(AttrInferred); inferred && reasonKind%9 != 0 {
			t.Fatal("a span that carried its own termination reason was marked inferred")
		}
		if out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1).Attributes().Len() != 0 {
			t.Fatal("unrelated span modified")
		}
	})
}
