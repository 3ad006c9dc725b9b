// Copyright The otel-streamslo Authors
// SPDX-License-Identifier: Apache-2.0

package streamsloprocessor // import "github.com/otel-streamslo/otel-streamslo/collector/streamsloprocessor"

import (
	"regexp"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Attributes the contrib google-genai and botocore instrumentations write.
const (
	AttrGenAIProviderName = "gen_ai.provider.name"
	AttrGenAISystem       = "gen_ai.system"
	// botocore: the AWS operation and the older HTTP status attribute.
	AttrRPCSystem      = "rpc.system"
	AttrRPCMethod      = "rpc.method"
	AttrHTTPStatusCode = "http.status_code"

	// util-genai (contrib genai-openai, google-genai) ends a stream the app
	// dropped unread with status ERROR, this message and error.type _OTHER.
	abandonedStreamMessage = "abandoned stream"
)

// googleProviders: gen_ai.provider.name / gen_ai.system of google-genai's
// spans (Gemini API, Vertex AI; the older and the gcp.* spellings).
var googleProviders = map[string]bool{
	"gemini": true, "vertex_ai": true, "gcp.gemini": true, "gcp.vertex_ai": true, "gcp.gen_ai": true,
}

// bedrockStreamMethods: the streamed Bedrock runtime operations (rpc.method).
var bedrockStreamMethods = map[string]bool{
	"ConverseStream": true, "InvokeModelWithResponseStream": true,
}

// google-genai's error.type: the HTTP status (or in-stream error code) of a
// google.genai APIError as a string, else the exception's qualified class
// name (httpx / httpx2). The OTTL config uses the same expressions.
var (
	statusCodeErrorType = regexp.MustCompile(`^[1-5][0-9][0-9]$`)
	droppedErrorType    = regexp.MustCompile(`\.(RemoteProtocolError|ReadError)$`)
	timeoutErrorType    = regexp.MustCompile(`\.ReadTimeout$`)
)

func isGoogleProvider(attrs pcommon.Map) bool {
	for _, k := range [...]string{AttrGenAIProviderName, AttrGenAISystem} {
		if v, ok := attrs.Get(k); ok && v.Type() == pcommon.ValueTypeStr && googleProviders[v.Str()] {
			return true
		}
	}
	return false
}

func isBedrockStream(attrs pcommon.Map) bool {
	sys, ok := attrs.Get(AttrRPCSystem)
	if !ok || sys.Type() != pcommon.ValueTypeStr || sys.Str() != "aws-api" {
		return false
	}
	m, ok := attrs.Get(AttrRPCMethod)
	return ok && m.Type() == pcommon.ValueTypeStr && bedrockStreamMethods[m.Str()]
}

// foreignHTTPStatus is the HTTP status a dialect records: http.response.status_code,
// for botocore its http.status_code, for google-genai a status-code error.type
// of a call that failed before its first chunk.
func foreignHTTPStatus(span ptrace.Span, attrs pcommon.Map, d dialect) (int64, bool) {
	if code, ok := httpStatus(attrs); ok {
		return code, true
	}
	switch d {
	case dialectBotocore:
		return statusAttr(attrs, AttrHTTPStatusCode)
	case dialectGoogleGenAI:
		if _, started := attrs.Get(AttrGenAIResponseTTFC); !started && span.Status().Code() == ptrace.StatusCodeError {
			if et := errorType(attrs); statusCodeErrorType.MatchString(et) {
				return statusAttr(attrs, AttrErrorType)
			}
		}
	}
	return 0, false
}

// contribReason: the reasons only the util-genai / google-genai spans tell
// (false: use the common rules):
//   - status ERROR "abandoned stream", error.type _OTHER (util-genai's mark):
//     client_abandoned;
//   - google-genai, status ERROR after the first chunk
//     (gen_ai.response.time_to_first_chunk present): a status-code error.type
//     is the in-stream error frame (server_error_event), an httpx
//     RemoteProtocolError / ReadError a dropped connection, a ReadTimeout an
//     idle timeout.
func contribReason(span ptrace.Span, attrs pcommon.Map, d dialect) (string, bool) {
	if d != dialectSemconv && d != dialectGoogleGenAI {
		return "", false
	}
	if span.Status().Code() != ptrace.StatusCodeError {
		return "", false
	}
	et := errorType(attrs)
	if et == ErrorTypeOther && span.Status().Message() == abandonedStreamMessage {
		return ReasonClientAbandoned, true
	}
	if d != dialectGoogleGenAI {
		return "", false
	}
	if _, started := attrs.Get(AttrGenAIResponseTTFC); !started {
		return "", false
	}
	switch {
	case statusCodeErrorType.MatchString(et):
		return ReasonServerErrorEvent, true
	case droppedErrorType.MatchString(et):
		return ReasonConnectionDropped, true
	case timeoutErrorType.MatchString(et):
		return ReasonIdleTimeout, true
	}
	return "", false
}

func errorType(attrs pcommon.Map) string {
	if v, ok := attrs.Get(AttrErrorType); ok && v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return ""
}

// statusAttr reads an HTTP status from key, as httpStatus does.
func statusAttr(attrs pcommon.Map, key string) (int64, bool) {
	if v, ok := attrs.Get(key); ok {
		return statusValue(v)
	}
	return 0, false
}
