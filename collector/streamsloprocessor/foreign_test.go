// Copyright The otel-streamslo Authors
// SPDX-License-Identifier: Apache-2.0

package streamsloprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestForeignDialects: streaming spans of other instrumentations, recognised
// by their own attributes; every inferred verdict carries streamslo.inferred.
func TestForeignDialects(t *testing.T) {
	oiParams := `{"model": "gpt-4o", "stream": true}`
	tests := []struct {
		name        string
		build       func(ptrace.Span, pcommon.Map)
		wantReason  string
		wantOutcome string
	}{
		{"openllmetry gen_ai.is_streaming", func(_ ptrace.Span, a pcommon.Map) {
			a.PutBool(AttrOpenLLMetryGenAIIsStreaming, true)
			finish(a, "stop")
		}, ReasonCompleted, "good"},
		{"openllmetry llm.is_streaming string", func(_ ptrace.Span, a pcommon.Map) {
			a.PutStr(AttrOpenLLMetryLLMIsStreaming, "true")
			finish(a, "length")
		}, ReasonLength, "good"},
		{"openllmetry status OK, no finish (its mid-stream errors)", func(s ptrace.Span, a pcommon.Map) {
			a.PutBool(AttrOpenLLMetryGenAIIsStreaming, true)
			s.Status().SetCode(ptrace.StatusCodeOk)
		}, ReasonTruncated, "bad"},
		{"openllmetry 400 by error.type", func(s ptrace.Span, a pcommon.Map) {
			a.PutBool(AttrOpenLLMetryGenAIIsStreaming, true)
			a.PutStr(AttrErrorType, "BadRequestError")
			s.Status().SetCode(ptrace.StatusCodeError)
		}, ReasonRequestFailed, "excluded"},
		{"openllmetry 429 by error.type stays bad", func(s ptrace.Span, a pcommon.Map) {
			a.PutBool(AttrOpenLLMetryGenAIIsStreaming, true)
			a.PutStr(AttrErrorType, "RateLimitError")
			s.Status().SetCode(ptrace.StatusCodeError)
		}, ReasonRequestFailed, "bad"},
		{"openinference finish", func(s ptrace.Span, a pcommon.Map) {
			a.PutStr(AttrOpenInferenceInvocationParameters, oiParams)
			a.PutStr(AttrOpenInferenceFinishReason, "max_tokens")
			s.Status().SetCode(ptrace.StatusCodeOk)
		}, ReasonLength, "good"},
		{"openinference OK without finish", func(s ptrace.Span, a pcommon.Map) {
			a.PutStr(AttrOpenInferenceInvocationParameters, oiParams)
			s.Status().SetCode(ptrace.StatusCodeOk)
		}, ReasonTruncated, "bad"},
		{"openinference UNSET: closed or abandoned", func(_ ptrace.Span, a pcommon.Map) {
			a.PutStr(AttrOpenInferenceInvocationParameters, oiParams)
		}, ReasonClientCancelled, "excluded"},
		{"openinference 404 by status message", func(s ptrace.Span, a pcommon.Map) {
			a.PutStr(AttrOpenInferenceInvocationParameters, oiParams)
			s.Status().SetCode(ptrace.StatusCodeError)
			s.Status().SetMessage("NotFoundError: Error code: 404")
		}, ReasonRequestFailed, "excluded"},
		{"openinference error", func(s ptrace.Span, a pcommon.Map) {
			a.PutStr(AttrOpenInferenceInvocationParameters, oiParams)
			s.Status().SetCode(ptrace.StatusCodeError)
			s.Status().SetMessage("APIError: overloaded")
		}, ReasonRequestFailed, "bad"},
		{"semconv flag wins over openinference rules", func(_ ptrace.Span, a pcommon.Map) {
			a.PutBool(AttrGenAIRequestStream, true)
			a.PutStr(AttrOpenInferenceInvocationParameters, oiParams)
		}, ReasonTruncated, "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			span := run(t, defaultCfg(), func(s ptrace.Span) { tt.build(s, s.Attributes()) })
			a := span.Attributes()
			assert.Equal(t, tt.wantReason, str(t, a, AttrTerminationReason))
			assert.Equal(t, tt.wantOutcome, str(t, a, AttrSLIOutcome))
			assert.Equal(t, "true", str(t, a, AttrInferred))
		})
	}
}

// TestNotStreamingDialectsUntouched: flags that say "not a stream" (or say
// nothing) leave the span alone.
func TestNotStreamingDialectsUntouched(t *testing.T) {
	for name, build := range map[string]func(pcommon.Map){
		"openllmetry false":       func(a pcommon.Map) { a.PutBool(AttrOpenLLMetryGenAIIsStreaming, false) },
		"openinference false":     func(a pcommon.Map) { a.PutStr(AttrOpenInferenceInvocationParameters, `{"stream": false}`) },
		"openinference no stream": func(a pcommon.Map) { a.PutStr(AttrOpenInferenceInvocationParameters, `{"stream_options": true}`) },
		"openinference not str":   func(a pcommon.Map) { a.PutInt(AttrOpenInferenceInvocationParameters, 1) },
	} {
		t.Run(name, func(t *testing.T) {
			span := run(t, defaultCfg(), func(s ptrace.Span) { build(s.Attributes()) })
			assert.Equal(t, "<absent>", str(t, span.Attributes(), AttrSLIOutcome))
			assert.Equal(t, "<absent>", str(t, span.Attributes(), AttrInferred))
		})
	}
}
