// Copyright The otel-streamslo Authors
// SPDX-License-Identifier: Apache-2.0

package streamsloprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGeneratedNamesConsistent: the tables of names_gen.go (generated from
// the Python lifecycle; collector/test.sh checks they are current) fit
// together.
func TestGeneratedNamesConsistent(t *testing.T) {
	known := map[string]bool{}
	for _, r := range KnownReasons {
		require.False(t, known[r], "duplicate reason %q", r)
		known[r] = true
	}
	for _, list := range [][]string{ClientReasons, ServerReasons, defaultGoodReasons, defaultExcludedReasons} {
		for _, r := range list {
			assert.True(t, known[r], r)
		}
	}
	assert.Len(t, KnownReasons, len(ClientReasons)+2, "server spans add upstream_failed and app_error")
	client := map[string]bool{}
	for _, r := range ClientReasons {
		client[r] = true
	}
	require.NotEmpty(t, finishReasons)
	for raw, r := range finishReasons {
		assert.True(t, client[r], "finish reason %q maps to %q, not a client reason", raw, r)
	}
	assert.Equal(t, ReasonLength, finishReasons["model_context_window_exceeded"])
	assert.Equal(t, ReasonLength, finishReasons["max_output_tokens"])
}
