// Copyright The otel-streamslo Authors
// SPDX-License-Identifier: Apache-2.0

//go:generate mdatagen metadata.yaml

// Package streamsloprocessor implements the `streamslo` processor: it
// classifies streaming GenAI spans (LLM streaming responses) under a
// stream-aware SLO policy and writes `streamslo.sli.outcome` and
// `streamslo.sli.latency`, so that a stock spanmetrics connector can count
// good, bad and excluded streams. A stream that committed to HTTP 200 and then
// failed mid-stream is counted as bad, and its span gets status ERROR and
// `error.type`.
package streamsloprocessor // import "github.com/otel-streamslo/otel-streamslo/collector/streamsloprocessor"
