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

// TestContribDialects: contrib google-genai and botocore spans (the shapes of
// testdata/dialect_{google_genai,botocore}, observed from the real peers),
// and the edges of their rules.
func TestContribDialects(t *testing.T) {
	gemini := func(a pcommon.Map, provider string) {
		a.PutStr(AttrGenAIProviderName, provider)
		a.PutBool(AttrGenAIRequestStream, true)
	}
	started := func(a pcommon.Map) { a.PutDouble(AttrGenAIResponseTTFC, 0.1) }
	failed := func(s ptrace.Span, a pcommon.Map, errType, msg string) {
		a.PutStr(AttrErrorType, errType)
		s.Status().SetCode(ptrace.StatusCodeError)
		s.Status().SetMessage(msg)
	}
	bedrock := func(a pcommon.Map, method string, status int64) {
		a.PutStr(AttrRPCSystem, "aws-api")
		a.PutStr(AttrRPCMethod, method)
		a.PutStr(AttrGenAISystem, "aws.bedrock")
		a.PutInt(AttrHTTPStatusCode, status)
	}
	tests := []struct {
		name        string
		build       func(ptrace.Span, pcommon.Map)
		wantReason  string
		wantOutcome string
	}{
		{"google 429 before the first chunk stays bad", func(s ptrace.Span, a pcommon.Map) {
			gemini(a, "gemini")
			failed(s, a, "429", "429 RESOURCE_EXHAUSTED.")
		}, ReasonRequestFailed, "bad"},
		{"google 404 before the first chunk, vertex_ai", func(s ptrace.Span, a pcommon.Map) {
			gemini(a, "vertex_ai")
			failed(s, a, "404", "404 NOT_FOUND.")
		}, ReasonRequestFailed, "excluded"},
		{"google in-stream 400 frame is a server error event", func(s ptrace.Span, a pcommon.Map) {
			gemini(a, "gcp.gemini")
			started(a)
			failed(s, a, "400", "400 INVALID_ARGUMENT.")
		}, ReasonServerErrorEvent, "bad"},
		{"google httpx ReadError after the first chunk", func(s ptrace.Span, a pcommon.Map) {
			gemini(a, "gemini")
			started(a)
			failed(s, a, "httpx.ReadError", "")
		}, ReasonConnectionDropped, "bad"},
		{"google ReadTimeout before the first chunk", func(s ptrace.Span, a pcommon.Map) {
			gemini(a, "gemini")
			failed(s, a, "httpx2.ReadTimeout", "timed out")
		}, ReasonRequestFailed, "bad"},
		{"google other error after the first chunk", func(s ptrace.Span, a pcommon.Map) {
			gemini(a, "gemini")
			started(a)
			failed(s, a, "ValueError", "boom")
		}, ReasonRequestFailed, "bad"},
		{"status-code error.type of another provider is no HTTP status", func(s ptrace.Span, a pcommon.Map) {
			gemini(a, "openai")
			failed(s, a, "400", "400")
		}, ReasonRequestFailed, "bad"},
		{"util-genai abandoned stream (semconv)", func(s ptrace.Span, a pcommon.Map) {
			gemini(a, "openai")
			started(a)
			failed(s, a, ErrorTypeOther, "abandoned stream")
		}, ReasonClientAbandoned, "excluded"},
		{"abandoned message with another error.type", func(s ptrace.Span, a pcommon.Map) {
			gemini(a, "gemini")
			failed(s, a, "RuntimeError", "abandoned stream")
		}, ReasonRequestFailed, "bad"},
		{"botocore 429 by http.status_code", func(s ptrace.Span, a pcommon.Map) {
			bedrock(a, "ConverseStream", 429)
			failed(s, a, "ThrottlingException", "")
		}, ReasonRequestFailed, "bad"},
		{"botocore 403 as a string", func(s ptrace.Span, a pcommon.Map) {
			bedrock(a, "InvokeModelWithResponseStream", 0)
			a.PutStr(AttrHTTPStatusCode, "403")
			failed(s, a, "AccessDeniedException", "")
		}, ReasonRequestFailed, "excluded"},
		{"botocore guardrail finish", func(_ ptrace.Span, a pcommon.Map) {
			bedrock(a, "ConverseStream", 200)
			finish(a, "guardrail_intervened")
		}, ReasonContentFilter, "good"},
		{"botocore closed: no finish, status UNSET", func(_ ptrace.Span, a pcommon.Map) {
			bedrock(a, "ConverseStream", 200)
		}, ReasonClientCancelled, "excluded"},
		{"http.response.status_code wins over http.status_code", func(s ptrace.Span, a pcommon.Map) {
			bedrock(a, "ConverseStream", 400)
			a.PutInt(AttrHTTPResponseStatusCode, 503)
			failed(s, a, "ServiceUnavailableException", "")
		}, ReasonRequestFailed, "bad"},
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

// TestNotBedrockStreamsUntouched: other AWS calls, and the unstreamed Bedrock
// operations, are not streams.
func TestNotBedrockStreamsUntouched(t *testing.T) {
	for name, build := range map[string]func(pcommon.Map){
		"converse":     func(a pcommon.Map) { a.PutStr(AttrRPCSystem, "aws-api"); a.PutStr(AttrRPCMethod, "Converse") },
		"s3":           func(a pcommon.Map) { a.PutStr(AttrRPCSystem, "aws-api"); a.PutStr(AttrRPCMethod, "GetObject") },
		"grpc method":  func(a pcommon.Map) { a.PutStr(AttrRPCSystem, "grpc"); a.PutStr(AttrRPCMethod, "ConverseStream") },
		"method alone": func(a pcommon.Map) { a.PutStr(AttrRPCMethod, "ConverseStream") },
	} {
		t.Run(name, func(t *testing.T) {
			span := run(t, defaultCfg(), func(s ptrace.Span) { build(s.Attributes()) })
			assert.Equal(t, "<absent>", str(t, span.Attributes(), AttrSLIOutcome))
			assert.Equal(t, "<absent>", str(t, span.Attributes(), AttrInferred))
		})
	}
}
