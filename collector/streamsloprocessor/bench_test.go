// Copyright The otel-streamslo Authors
// SPDX-License-Identifier: Apache-2.0

package streamsloprocessor

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

// benchBatch builds a batch of n spans: a realistic mix of our streaming spans
// (all reasons), foreign streaming spans and unrelated HTTP spans.
func benchBatch(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "chat-app")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	spans.EnsureCapacity(n)
	for i := 0; i < n; i++ {
		s := spans.AppendEmpty()
		s.SetName("chat gpt-4o")
		s.SetKind(ptrace.SpanKindClient)
		s.SetStartTimestamp(pcommon.Timestamp(time.Second))
		s.SetEndTimestamp(pcommon.Timestamp(3 * time.Second))
		a := s.Attributes()
		a.EnsureCapacity(16)
		a.PutStr("gen_ai.operation.name", "chat")
		a.PutStr("gen_ai.provider.name", "openai")
		a.PutStr("gen_ai.request.model", "gpt-4o")
		a.PutStr("server.address", "127.0.0.1")
		a.PutInt("server.port", 8000)
		switch {
		case i%10 == 8: // foreign streaming span
			a.PutBool(AttrGenAIRequestStream, true)
			a.PutInt(AttrHTTPResponseStatusCode, 200)
			finish(a, "stop")
			a.PutDouble(AttrGenAIResponseTTFC, 0.3)
		case i%10 == 9: // unrelated span
			a.PutInt(AttrHTTPResponseStatusCode, 200)
		default:
			a.PutBool(AttrGenAIRequestStream, true)
			a.PutInt(AttrHTTPResponseStatusCode, 200)
			a.PutStr(AttrTerminationReason, KnownReasons[i%len(KnownReasons)])
			a.PutDouble(AttrTimeToFirstToken, float64(i%40)/10)
			a.PutInt("streamslo.tokens.delivered", 412)
		}
	}
	return td
}

// BenchmarkProcessTraces measures first-time classification of fresh batches
// (attributes are written, not overwritten). Reports spans/s.
func BenchmarkProcessTraces(b *testing.B) {
	const batch = 1000
	p := newStreamSLOProcessor(createDefaultConfig().(*Config), zap.NewNop())
	tmpl := benchBatch(batch)
	work := make([]ptrace.Traces, 0, 64)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var spans int
	for i := 0; i < b.N; i++ {
		if i%cap(work) == 0 {
			b.StopTimer()
			work = work[:0]
			for j := 0; j < cap(work); j++ {
				td := ptrace.NewTraces()
				tmpl.CopyTo(td)
				work = append(work, td)
			}
			b.StartTimer()
		}
		_, _ = p.processTraces(ctx, work[i%cap(work)])
		spans += batch
	}
	b.ReportMetric(float64(spans)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkProcessTracesSteadyState re-classifies the same batch: output
// attributes already exist, so no attribute slice grows (0 allocs expected).
func BenchmarkProcessTracesSteadyState(b *testing.B) {
	const batch = 1000
	p := newStreamSLOProcessor(createDefaultConfig().(*Config), zap.NewNop())
	td := benchBatch(batch)
	ctx := context.Background()
	_, _ = p.processTraces(ctx, td)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _ = p.processTraces(ctx, td)
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "spans/s")
}
