// Copyright The otel-streamslo Authors
// SPDX-License-Identifier: Apache-2.0

package streamsloprocessor // import "github.com/otel-streamslo/otel-streamslo/collector/streamsloprocessor"

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/otel-streamslo/otel-streamslo/collector/streamsloprocessor/internal/metadata"
)

var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns a new factory for the streamslo processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTracesProcessor, metadata.TracesStability))
}

func createDefaultConfig() component.Config {
	return &Config{
		GoodReasons:               append([]string(nil), defaultGoodReasons...),
		ExcludedReasons:           append([]string(nil), defaultExcludedReasons...),
		TimeToFirstTokenThreshold: 2 * time.Second,
		SetSpanStatus:             true,
	}
}

func createTracesProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	pCfg, ok := cfg.(*Config)
	if !ok {
		return nil, errors.New("configuration parsing error: not a *streamsloprocessor.Config")
	}
	p := newStreamSLOProcessor(pCfg, set.Logger)
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces,
		processorhelper.WithCapabilities(processorCapabilities))
}
