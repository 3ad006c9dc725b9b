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

// Termination reasons of the design contract (streamslo.termination.reason).
const (
	ReasonCompleted         = "completed"
	ReasonLength            = "length"
	ReasonContentFilter     = "content_filter"
	ReasonServerErrorEvent  = "server_error_event"
	ReasonConnectionDropped = "connection_dropped"
	ReasonIdleTimeout       = "idle_timeout"
	ReasonTruncated         = "truncated"
	ReasonRequestFailed     = "request_failed"
	ReasonClientCancelled   = "client_cancelled"
	ReasonClientAbandoned   = "client_abandoned"
	ReasonConsumerError     = "consumer_error"
)

// KnownReasons lists every termination reason of the design contract, in the
// order of DESIGN.md.
var KnownReasons = []string{
	ReasonCompleted,
	ReasonLength,
	ReasonContentFilter,
	ReasonServerErrorEvent,
	ReasonConnectionDropped,
	ReasonIdleTimeout,
	ReasonTruncated,
	ReasonRequestFailed,
	ReasonClientCancelled,
	ReasonClientAbandoned,
	ReasonConsumerError,
}

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
