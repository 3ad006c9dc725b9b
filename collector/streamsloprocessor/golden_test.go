// Copyright The otel-streamslo Authors
// SPDX-License-Identifier: Apache-2.0

package streamsloprocessor

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.yaml.in/yaml/v3"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"

	"github.com/otel-streamslo/otel-streamslo/collector/streamsloprocessor/internal/metadata"
)

// go test -run TestGolden -update   regenerates testdata/<case>/output.yaml
var update = flag.Bool("update", false, "regenerate the golden testdata/<case>/output.yaml files")

// goldenCases: one directory per case under testdata, each with input.yaml
// and the expected output.yaml (OTLP/JSON as YAML, the layout of contrib's
// pkg/golden, whose v0.155.0 is not served by the module proxy; see README).
var goldenCases = []string{
	"completed",
	"length",
	"content_filter",
	"server_error_event",
	"connection_dropped",
	"idle_timeout",
	"truncated",
	"request_failed",
	"client_cancelled",
	"client_abandoned",
	"consumer_error",
	"latency",
	"foreign",
	"foreign_finish_names",
	"server_spans",
	"dialect_openllmetry",
	"dialect_openinference",
	"dialect_genai",
	"dialect_google_genai",
	"dialect_botocore",
	"dialect_contrib_edges",
	"passthrough",
	"malformed",
}

func readTracesYAML(t *testing.T, path string) ptrace.Traces {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(b, &doc))
	j, err := json.Marshal(doc)
	require.NoError(t, err)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(j)
	require.NoError(t, err, path)
	return td
}

func writeTracesYAML(t *testing.T, path string, td ptrace.Traces) {
	t.Helper()
	j, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(j, &doc))
	b, err := yaml.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

func TestGolden(t *testing.T) {
	for _, name := range goldenCases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			input := readTracesYAML(t, filepath.Join(dir, "input.yaml"))
			inputSpans := input.SpanCount()

			sink := new(consumertest.TracesSink)
			proc, err := NewFactory().CreateTraces(t.Context(), processortest.NewNopSettings(metadata.Type), createDefaultConfig(), sink)
			require.NoError(t, err)
			require.NoError(t, proc.ConsumeTraces(t.Context(), input))
			require.Len(t, sink.AllTraces(), 1)
			actual := sink.AllTraces()[0]
			require.Equal(t, inputSpans, actual.SpanCount(), "no span may be dropped")

			outPath := filepath.Join(dir, "output.yaml")
			if *update {
				writeTracesYAML(t, outPath, actual)
				t.Logf("updated %s", outPath)
			}
			expected := readTracesYAML(t, outPath)
			require.NoError(t, ptracetest.CompareTraces(expected, actual))
		})
	}
}

// TestGoldenPassthroughIdentical: in the passthrough case the output file must
// equal the input exactly.
func TestGoldenPassthroughIdentical(t *testing.T) {
	in := readTracesYAML(t, filepath.Join("testdata", "passthrough", "input.yaml"))
	out := readTracesYAML(t, filepath.Join("testdata", "passthrough", "output.yaml"))
	require.NoError(t, ptracetest.CompareTraces(in, out))
}
