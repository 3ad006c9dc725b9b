// Copyright The otel-streamslo Authors
// SPDX-License-Identifier: Apache-2.0

package streamsloprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otel-streamslo/otel-streamslo/collector/streamsloprocessor/internal/metadata"
)

func TestCreateDefaultConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, []string{"completed", "length", "content_filter"}, cfg.GoodReasons)
	assert.Equal(t, []string{"client_cancelled", "client_abandoned", "consumer_error"}, cfg.ExcludedReasons)
	assert.Equal(t, 2*time.Second, cfg.TimeToFirstTokenThreshold)
	assert.True(t, cfg.SetSpanStatus)
	assert.NoError(t, cfg.Validate())
}

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg.(*Config)
}

func TestLoadConfig(t *testing.T) {
	def := loadConfig(t, "")
	assert.Equal(t, createDefaultConfig(), def)
	require.NoError(t, def.Validate())

	custom := loadConfig(t, "custom")
	require.NoError(t, custom.Validate())
	assert.Equal(t, []string{"completed", "length"}, custom.GoodReasons)
	assert.Equal(t, []string{"client_cancelled", "client_abandoned", "consumer_error", "content_filter", "request_failed"}, custom.ExcludedReasons)
	assert.Equal(t, 1500*time.Millisecond, custom.TimeToFirstTokenThreshold)
	assert.False(t, custom.SetSpanStatus)
}

// TestDownstreamReasonsAccepted: good_reasons / excluded_reasons take the
// downstream (server span) reasons too.
func TestDownstreamReasonsAccepted(t *testing.T) {
	cfg := loadConfig(t, "server")
	require.NoError(t, cfg.Validate())
	assert.Equal(t, []string{"completed", "upstream_failed"}, cfg.GoodReasons)
	assert.Equal(t, []string{"client_cancelled", "app_error"}, cfg.ExcludedReasons)
	for _, r := range ServerReasons {
		c := createDefaultConfig().(*Config)
		c.GoodReasons = []string{r}
		c.ExcludedReasons = nil
		assert.NoError(t, c.Validate(), r)
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name    string
		wantErr []string
	}{
		{name: "unknown_reason", wantErr: []string{`good_reasons: unknown termination reason "finished"`, "valid values: completed, length, content_filter, server_error_event, connection_dropped, idle_timeout, truncated, request_failed, client_cancelled, client_abandoned, consumer_error, upstream_failed, app_error"}},
		{name: "both_lists", wantErr: []string{`termination reason "length" is listed in both good_reasons and excluded_reasons`}},
		{name: "zero_threshold", wantErr: []string{"time_to_first_token_threshold: must be a positive duration", "got 0s"}},
		{name: "negative_threshold", wantErr: []string{"time_to_first_token_threshold: must be a positive duration", "got -1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := loadConfig(t, tt.name).Validate()
			require.Error(t, err)
			for _, w := range tt.wantErr {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestValidateExcludedUnknownAndMultipleErrors(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.ExcludedReasons = []string{"client_cancelled", "Completed"}
	cfg.GoodReasons = append(cfg.GoodReasons, "client_cancelled")
	cfg.TimeToFirstTokenThreshold = 0
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `excluded_reasons: unknown termination reason "Completed"`)
	assert.Contains(t, err.Error(), `"client_cancelled" is listed in both`)
	assert.Contains(t, err.Error(), "time_to_first_token_threshold")
}

func TestEmptyListsAreValid(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.GoodReasons = nil
	cfg.ExcludedReasons = []string{}
	require.NoError(t, cfg.Validate())
}
