// Copyright The otel-streamslo Authors
// SPDX-License-Identifier: Apache-2.0

package streamsloprocessor // import "github.com/otel-streamslo/otel-streamslo/collector/streamsloprocessor"

import (
	"regexp"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Attributes of other instrumentations' streaming spans (their dialects).
const (
	// OpenLLMetry (traceloop): bool flags.
	AttrOpenLLMetryGenAIIsStreaming = "gen_ai.is_streaming"
	AttrOpenLLMetryLLMIsStreaming   = "llm.is_streaming"
	// OpenInference: the request's parameters as a JSON string, and the first
	// choice's finish reason as a plain string.
	AttrOpenInferenceInvocationParameters = "llm.invocation_parameters"
	AttrOpenInferenceFinishReason         = "llm.finish_reason"
)

// openInferenceStream matches a top-level-looking "stream": true inside
// llm.invocation_parameters (the OTTL config uses the same expression).
var openInferenceStream = regexp.MustCompile(`"stream"\s*:\s*true\b`)

// sdkClientError matches the SDKs' exception class names for an HTTP 4xx other
// than 429 (openai and anthropic share them), in error.type or at the start
// of the status message (OpenInference writes "BadRequestError: ..."): a peer
// that records no HTTP status still tells a caller error apart this way. The
// OTTL config uses the same expression.
var sdkClientError = regexp.MustCompile(`^(BadRequestError|AuthenticationError|PermissionDeniedError|NotFoundError|ConflictError|UnprocessableEntityError)\b`)

// resolveForeign is resolve for an inferred verdict: the HTTP status is the
// dialect's (foreignHTTPStatus); without one, request_failed is excluded when
// the error names a 4xx (sdkClientError).
func resolveForeign(pol outcome, span ptrace.Span, attrs pcommon.Map, d dialect) outcome {
	if pol != outcomeByHTTPStatus {
		return pol
	}
	if code, ok := foreignHTTPStatus(span, attrs, d); ok {
		if code >= 400 && code <= 499 && code != 429 {
			return outcomeExcluded
		}
		return outcomeBad
	}
	if v, ok := attrs.Get(AttrErrorType); ok && v.Type() == pcommon.ValueTypeStr && sdkClientError.MatchString(v.Str()) {
		return outcomeExcluded
	}
	if sdkClientError.MatchString(span.Status().Message()) {
		return outcomeExcluded
	}
	return outcomeBad
}

type dialect uint8

const (
	dialectNone dialect = iota
	// dialectSemconv: gen_ai.request.stream = true (GenAI semantic
	// conventions: contrib genai-openai, which sets it at the first chunk,
	// and others).
	dialectSemconv
	// dialectOpenLLMetry: gen_ai.is_streaming / llm.is_streaming = true.
	dialectOpenLLMetry
	// dialectOpenInference: "stream": true in llm.invocation_parameters.
	dialectOpenInference
	// dialectGoogleGenAI: gen_ai.request.stream = true from a Google
	// provider (contrib google-genai; foreign_contrib.go).
	dialectGoogleGenAI
	// dialectBotocore: a Bedrock streaming operation traced by contrib
	// botocore (rpc.method; foreign_contrib.go).
	dialectBotocore
)

// streamingDialect tells whether a span without streamslo.termination.reason
// is a streaming GenAI span of another instrumentation, and whose.
func streamingDialect(attrs pcommon.Map) dialect {
	if isTrue(attrs, AttrGenAIRequestStream) {
		if isGoogleProvider(attrs) {
			return dialectGoogleGenAI
		}
		return dialectSemconv
	}
	if isTrue(attrs, AttrOpenLLMetryGenAIIsStreaming) || isTrue(attrs, AttrOpenLLMetryLLMIsStreaming) {
		return dialectOpenLLMetry
	}
	if v, ok := attrs.Get(AttrOpenInferenceInvocationParameters); ok && v.Type() == pcommon.ValueTypeStr &&
		openInferenceStream.MatchString(v.Str()) {
		return dialectOpenInference
	}
	if isBedrockStream(attrs) {
		return dialectBotocore
	}
	return dialectNone
}

func isTrue(attrs pcommon.Map, key string) bool {
	v, ok := attrs.Get(key)
	if !ok {
		return false
	}
	switch v.Type() {
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeStr:
		return v.Str() == "true"
	default:
		return false
	}
}

// inferForeignReason derives a termination reason for a streaming GenAI span
// of another instrumentation (no streamslo.termination.reason):
//   - an HTTP status >= 400: request_failed;
//   - span status ERROR without an HTTP status: request_failed (connect error;
//     peers that record no HTTP status report mid-stream failures this way too);
//   - span status ERROR with a 1xx-3xx HTTP status: server_error_event (the
//     stream failed after the status was committed; their error.type is kept);
//   - otherwise finish reasons (gen_ai.response.finish_reasons, else
//     OpenInference's llm.finish_reason), mapped by the generated
//     finishReasons table (the SDKs' own mappings; unlisted names ->
//     completed), the worst of a list deciding (server_error_event >
//     content_filter > length > completed);
//   - no finish reason: OpenInference with status UNSET (it leaves the status
//     unset when the consumer closes or abandons the stream) -> client_cancelled;
//     else truncated;
//   - the contrib dialects' own rules first (contribReason, foreign_contrib.go).
func inferForeignReason(span ptrace.Span, attrs pcommon.Map, d dialect) string {
	if reason, ok := contribReason(span, attrs, d); ok {
		return reason
	}
	code, hasCode := foreignHTTPStatus(span, attrs, d)
	if hasCode && code >= 400 {
		return ReasonRequestFailed
	}
	if span.Status().Code() == ptrace.StatusCodeError {
		if !hasCode {
			return ReasonRequestFailed
		}
		return ReasonServerErrorEvent
	}
	if reason, ok := finishListReason(attrs); ok {
		return reason
	}
	if d == dialectOpenInference {
		if v, ok := attrs.Get(AttrOpenInferenceFinishReason); ok && v.Type() == pcommon.ValueTypeStr && v.Str() != "" {
			return finishReasonToReason(v.Str())
		}
		if span.Status().Code() == ptrace.StatusCodeUnset {
			return ReasonClientCancelled
		}
	}
	if d == dialectBotocore {
		// contrib botocore ends a stream's span without a finish reason only
		// in close() (drops, stalls, truncated or abandoned streams end none).
		return ReasonClientCancelled
	}
	return ReasonTruncated
}

// finishListReason reads gen_ai.response.finish_reasons; false when absent,
// empty or of an unusable type.
func finishListReason(attrs pcommon.Map) (string, bool) {
	fr, ok := attrs.Get(AttrGenAIResponseFinishReasons)
	if !ok {
		return "", false
	}
	switch fr.Type() {
	case pcommon.ValueTypeSlice:
		s := fr.Slice()
		if s.Len() == 0 {
			return "", false
		}
		reason := ReasonCompleted
		for i := 0; i < s.Len(); i++ {
			if v := s.At(i); v.Type() == pcommon.ValueTypeStr {
				reason = worseFinish(reason, finishReasonToReason(v.Str()))
			}
		}
		return reason, true
	case pcommon.ValueTypeStr:
		// Malformed (a single string instead of a list): accept it.
		if fr.Str() == "" {
			return "", false
		}
		return finishReasonToReason(fr.Str()), true
	default:
		return "", false
	}
}

// finishReasonToReason maps one raw finish reason with the generated table
// (names_gen.go); a name no SDK reports counts as a normal finish.
func finishReasonToReason(fr string) string {
	if r, ok := finishReasons[fr]; ok {
		return r
	}
	return ReasonCompleted
}

// finishRank orders the reasons a finish list can give (n > 1 choices): the
// worst choice decides.
func finishRank(r string) int {
	switch r {
	case ReasonServerErrorEvent:
		return 3
	case ReasonContentFilter:
		return 2
	case ReasonLength:
		return 1
	default:
		return 0
	}
}

func worseFinish(a, b string) string {
	if finishRank(b) > finishRank(a) {
		return b
	}
	return a
}
