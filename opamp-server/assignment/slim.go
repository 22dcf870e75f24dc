package assignment

import (
	"context"
	"fmt"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// Slim is what a record that must give an assignment back later (a
// rollout's wave, an experiment's target) keeps of it: the assignment
// without its configuration when its pipeline and parameters render it
// again, whole otherwise. Thousands of 10 KiB configurations would make
// such a record, read and rewritten at every step, megabytes; Restorable
// renders the text again.
func (s *Service) Slim(ctx context.Context, asg apitypes.Assignment) apitypes.Assignment {
	if asg.Pipeline != "" && asg.Config != "" {
		if again, err := s.Render(ctx, asg.InstanceUID, asg.Pipeline, asg.Parameters); err == nil && again.ConfigHash == asg.ConfigHash {
			asg.Config = ""
		}
	}
	return asg
}

// Restorable is an assignment Slim kept, with its configuration rendered
// again when Slim left it out. A catalog changed since (a server upgrade)
// renders the same pipeline and parameters as it now does: that is given
// back, rather than leaving the agent on what replaced it.
func (s *Service) Restorable(ctx context.Context, asg apitypes.Assignment) (apitypes.Assignment, error) {
	if asg.Config != "" || asg.Pipeline == "" {
		return asg, nil
	}
	again, err := s.Render(ctx, asg.InstanceUID, asg.Pipeline, asg.Parameters)
	if err != nil {
		return asg, fmt.Errorf("rendering its previous assignment again: %w", err)
	}
	asg.Config, asg.ConfigHash = again.Config, again.ConfigHash
	return asg, nil
}
