// Copyright The otel-streamslo Authors
// SPDX-License-Identifier: Apache-2.0

package streamsloprocessor // import "github.com/otel-streamslo/otel-streamslo/collector/streamsloprocessor"

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
)

// The reason names (ReasonCompleted, ..., KnownReasons) and the finish-reason
// mapping are generated from the Python lifecycle: names_gen.go.
//go:generate ../../.venv/bin/python ../../scripts/gen_collector_names.py

var _ component.Config = (*Config)(nil)

// Config defines the configuration of the streamslo processor.
type Config struct {
	// GoodReasons are the termination reasons that count as good streams.
	GoodReasons []string `mapstructure:"good_reasons"`
	// ExcludedReasons are the termination reasons that are excluded from the
	// availability SLI (neither good nor bad). Every reason in neither list is bad.
	ExcludedReasons []string `mapstructure:"excluded_reasons"`
	// TimeToFirstTokenThreshold is the latency SLI threshold: a stream whose
	// time to first token is at or under it is latency-good.
	TimeToFirstTokenThreshold time.Duration `mapstructure:"time_to_first_token_threshold"`
	// SetSpanStatus sets status ERROR and error.type on bad streams.
	SetSpanStatus bool `mapstructure:"set_span_status"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func isKnownReason(r string) bool {
	for _, k := range KnownReasons {
		if k == r {
			return true
		}
	}
	return false
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	valid := strings.Join(KnownReasons, ", ")
	inGood := make(map[string]bool, len(cfg.GoodReasons))
	for _, r := range cfg.GoodReasons {
		if !isKnownReason(r) {
			errs = append(errs, fmt.Errorf("good_reasons: unknown termination reason %q (valid values: %s)", r, valid))
			continue
		}
		inGood[r] = true
	}
	for _, r := range cfg.ExcludedReasons {
		if !isKnownReason(r) {
			errs = append(errs, fmt.Errorf("excluded_reasons: unknown termination reason %q (valid values: %s)", r, valid))
			continue
		}
		if inGood[r] {
			errs = append(errs, fmt.Errorf("termination reason %q is listed in both good_reasons and excluded_reasons; a reason can have only one outcome", r))
		}
	}
	if cfg.TimeToFirstTokenThreshold <= 0 {
		errs = append(errs, fmt.Errorf("time_to_first_token_threshold: must be a positive duration (e.g. 2s), got %s", cfg.TimeToFirstTokenThreshold))
	}
	return errors.Join(errs...)
}
