// Copyright The otel-streamslo Authors
// SPDX-License-Identifier: Apache-2.0

package streamsloprocessor // import "github.com/otel-streamslo/otel-streamslo/collector/streamsloprocessor"

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

// Attribute names of the design contract (DESIGN.md). Defined here as
// constants; the incubating semconv module is deliberately not imported.
const (
	AttrTerminationReason = "streamslo.termination.reason"
	AttrSLIOutcome        = "streamslo.sli.outcome"
	AttrSLILatency        = "streamslo.sli.latency"
	AttrTimeToFirstToken  = "streamslo.time_to_first_token"
	// AttrInferred (bool true) marks a verdict inferred from another
	// instrumentation's span; our own spans never carry it.
	AttrInferred = "streamslo.inferred"

	AttrGenAIRequestStream         = "gen_ai.request.stream"
	AttrGenAIResponseTTFC          = "gen_ai.response.time_to_first_chunk"
	AttrGenAIResponseFinishReasons = "gen_ai.response.finish_reasons"
	AttrHTTPResponseStatusCode     = "http.response.status_code"
	AttrErrorType                  = "error.type"
)

// Values of streamslo.sli.outcome and streamslo.sli.latency.
const (
	OutcomeGood     = "good"
	OutcomeBad      = "bad"
	OutcomeExcluded = "excluded"
)

// ErrorTypeOther is written to error.type (the semantic-convention fallback
// value) for a bad stream whose termination reason is not a known name; this
// keeps the error.type dimension bounded whatever producers send.
const ErrorTypeOther = "_OTHER"

// maxUnknownReasonsLogged bounds the set of unknown reason names remembered
// for once-per-name logging.
const maxUnknownReasonsLogged = 64

type outcome uint8

const (
	outcomeBad outcome = iota
	outcomeGood
	outcomeExcluded
	// outcomeByHTTPStatus: request_failed not listed explicitly by the user:
	// excluded for 4xx other than 429, bad for 429, 5xx and no status.
	outcomeByHTTPStatus
)

func (o outcome) String() string {
	switch o {
	case outcomeGood:
		return OutcomeGood
	case outcomeExcluded:
		return OutcomeExcluded
	default:
		return OutcomeBad
	}
}

type streamSLOProcessor struct {
	logger           *zap.Logger
	policy           map[string]outcome // every known reason -> outcome
	thresholdSeconds float64
	setSpanStatus    bool

	unknownMu       sync.Mutex
	unknownSeen     map[string]struct{}
	unknownOverflow bool
}

func newStreamSLOProcessor(cfg *Config, logger *zap.Logger) *streamSLOProcessor {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &streamSLOProcessor{
		logger:           logger,
		policy:           buildPolicy(cfg),
		thresholdSeconds: cfg.TimeToFirstTokenThreshold.Seconds(),
		setSpanStatus:    cfg.SetSpanStatus,
		unknownSeen:      make(map[string]struct{}),
	}
}

// buildPolicy precomputes the reason -> outcome lookup of the hot path.
func buildPolicy(cfg *Config) map[string]outcome {
	policy := make(map[string]outcome, len(KnownReasons))
	for _, r := range KnownReasons {
		policy[r] = outcomeBad
	}
	policy[ReasonRequestFailed] = outcomeByHTTPStatus
	for _, r := range cfg.GoodReasons {
		if _, ok := policy[r]; ok {
			policy[r] = outcomeGood
		}
	}
	for _, r := range cfg.ExcludedReasons {
		if _, ok := policy[r]; ok {
			policy[r] = outcomeExcluded
		}
	}
	return policy
}

func (p *streamSLOProcessor) processTraces(_ context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				p.processSpan(spans.At(k))
			}
		}
	}
	return td, nil
}

// processSpan classifies one span in place. Spans that are neither ours (no
// streamslo.termination.reason) nor streaming GenAI spans of another
// instrumentation (one of the dialects of foreign.go) are not touched at all.
func (p *streamSLOProcessor) processSpan(span ptrace.Span) {
	attrs := span.Attributes()

	var reason string // known reason name, or "" when unknown/malformed
	var o outcome
	if rv, ok := attrs.Get(AttrTerminationReason); ok {
		if rv.Type() == pcommon.ValueTypeStr {
			reason = rv.Str()
		}
		pol, known := p.policy[reason]
		if !known {
			p.noteUnknownReason(rv)
			reason = ""
			pol = outcomeBad
		}
		o = p.resolve(pol, attrs)
	} else {
		d := streamingDialect(attrs)
		if d == dialectNone {
			return
		}
		reason = inferForeignReason(span, attrs, d)
		attrs.PutStr(AttrTerminationReason, reason)
		attrs.PutBool(AttrInferred, true)
		o = resolveForeign(p.policy[reason], span, attrs, d)
	}

	// Latency SLI: our TTFT, else the semconv time_to_first_chunk (copied over).
	ttft, hasTTFT := seconds(attrs, AttrTimeToFirstToken)
	if !hasTTFT {
		if ttft, hasTTFT = seconds(attrs, AttrGenAIResponseTTFC); hasTTFT {
			attrs.PutDouble(AttrTimeToFirstToken, ttft)
		}
	}
	latency := OutcomeExcluded
	if hasTTFT {
		if ttft <= p.thresholdSeconds {
			latency = OutcomeGood
		} else {
			latency = OutcomeBad
		}
	}

	putStr(attrs, AttrSLIOutcome, o.String())
	putStr(attrs, AttrSLILatency, latency)

	if o != outcomeBad || !p.setSpanStatus {
		return
	}
	label := reason
	if label == "" {
		label = ErrorTypeOther
	}
	status := span.Status()
	if status.Code() != ptrace.StatusCodeError {
		status.SetCode(ptrace.StatusCodeError)
		status.SetMessage(label)
	} else if status.Message() == "" {
		status.SetMessage(label)
	}
	if _, ok := attrs.Get(AttrErrorType); !ok {
		attrs.PutStr(AttrErrorType, label)
	}
}

// putStr writes a string attribute unless it already holds that value (a
// write allocates the value's wrapper in pdata; an equal value needs none).
func putStr(attrs pcommon.Map, key, value string) {
	if v, ok := attrs.Get(key); ok && v.Type() == pcommon.ValueTypeStr && v.Str() == value {
		return
	}
	attrs.PutStr(key, value)
}

func (p *streamSLOProcessor) resolve(pol outcome, attrs pcommon.Map) outcome {
	if pol != outcomeByHTTPStatus {
		return pol
	}
	code, ok := httpStatus(attrs)
	if ok && code >= 400 && code <= 499 && code != 429 {
		return outcomeExcluded
	}
	return outcomeBad
}

// httpStatus reads http.response.status_code (int; double and numeric string
// tolerated).
func httpStatus(attrs pcommon.Map) (int64, bool) {
	v, ok := attrs.Get(AttrHTTPResponseStatusCode)
	if !ok {
		return 0, false
	}
	return statusValue(v)
}

// statusValue reads an HTTP status code value (int; double and numeric
// string tolerated).
func statusValue(v pcommon.Value) (int64, bool) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return v.Int(), true
	case pcommon.ValueTypeDouble:
		d := v.Double()
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return 0, false
		}
		return int64(d), true
	case pcommon.ValueTypeStr:
		n, err := strconv.ParseInt(strings.TrimSpace(v.Str()), 10, 64)
		if err != nil {
			return 0, false
		}
		return n, true
	default:
		return 0, false
	}
}

// seconds reads a non-negative, finite number of seconds (double or int).
func seconds(attrs pcommon.Map, key string) (float64, bool) {
	v, ok := attrs.Get(key)
	if !ok {
		return 0, false
	}
	var d float64
	switch v.Type() {
	case pcommon.ValueTypeDouble:
		d = v.Double()
	case pcommon.ValueTypeInt:
		d = float64(v.Int())
	default:
		return 0, false
	}
	if math.IsNaN(d) || math.IsInf(d, 0) || d < 0 {
		return 0, false
	}
	return d, true
}

// noteUnknownReason logs an unknown or malformed termination reason once per
// name, remembering at most maxUnknownReasonsLogged names.
func (p *streamSLOProcessor) noteUnknownReason(v pcommon.Value) {
	var name string
	if v.Type() == pcommon.ValueTypeStr {
		name = v.Str()
	} else {
		name = v.Type().String() + ":" + v.AsString()
	}
	p.unknownMu.Lock()
	if _, seen := p.unknownSeen[name]; seen || p.unknownOverflow {
		p.unknownMu.Unlock()
		return
	}
	if len(p.unknownSeen) >= maxUnknownReasonsLogged {
		p.unknownOverflow = true
		p.unknownMu.Unlock()
		p.logger.Warn("too many unknown streamslo.termination.reason values; no longer logging new ones (they still count as bad)",
			zap.Int("logged", maxUnknownReasonsLogged))
		return
	}
	if len(name) > 128 {
		name = name[:128]
	}
	name = strings.Clone(name)
	p.unknownSeen[name] = struct{}{}
	p.unknownMu.Unlock()
	p.logger.Warn("unknown streamslo.termination.reason; counted as bad",
		zap.String("reason", name),
		zap.Strings("known_reasons", KnownReasons))
}
