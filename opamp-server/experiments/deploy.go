package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/selector"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/pipelines/catalog"
)

// criticalRulesParam is the catalog parameter the controller sets itself:
// critical rules for process_critical and cost_meter (the variant label is
// catalog.VariantParam).
const criticalRulesParam = "critical_rules"

// deploy resolves the targets, renders and validates every configuration,
// and only then assigns them: a render problem fails the experiment with
// nothing sent.
func (c *Controller) deploy(ctx context.Context, x Experiment) error {
	targets, err := c.resolveTargets(ctx, x)
	if err != nil {
		return c.fail(ctx, x, err.Error())
	}
	assignments := make([]apitypes.Assignment, len(targets))
	x.State.Configs = map[string]string{}
	for i := range targets {
		asg, err := c.render(ctx, x, targets[i])
		if err != nil {
			return c.fail(ctx, x, fmt.Sprintf("rendering for agent %s: %v", targets[i].InstanceUID, err))
		}
		asg.Reason = "experiment " + x.Name + " (" + x.ID + ")"
		targets[i].ConfigHash = asg.ConfigHash
		assignments[i] = asg
		if _, seen := x.State.Configs[targets[i].Variant]; !seen {
			x.State.Configs[targets[i].Variant] = asg.Config
		}
	}
	x.State.Targets = targets
	x.State.DeployStartedAt = c.set.Now()
	// Save the targets and their previous assignments before touching any
	// agent, so a crash from here on can always restore them.
	if err := c.transition(ctx, x, apitypes.ExperimentDeploying, fmt.Sprintf("deploying to %d agent(s)", len(targets))); err != nil {
		return err
	}
	if _, err := c.set.Assignments.Store(ctx, assignments...); err != nil {
		return fmt.Errorf("assigning: %w", err)
	}
	return nil
}

func (c *Controller) fail(ctx context.Context, x Experiment, cause string) error {
	x.State.Error = cause
	return c.finish(ctx, x, apitypes.ExperimentFailed, cause)
}

// resolveTargets lists the online agents matching the selector, with the
// assignment each will get back, and their variants.
func (c *Controller) resolveTargets(ctx context.Context, x Experiment) ([]apitypes.ExperimentTarget, error) {
	sel, err := selector.ParseRequired(x.Spec.Targets.Selector)
	if err != nil {
		return nil, err
	}
	agents, err := c.set.Assignments.Matching(ctx, sel, true)
	if err != nil {
		return nil, err
	}
	targets := make([]apitypes.ExperimentTarget, 0, len(agents))
	for _, a := range agents {
		prev, err := c.set.Store.GetAssignment(ctx, a.InstanceUID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("agent %s (%s) has no assignment to return to after the experiment: assign it its current pipeline first (phoenix config assign)",
				a.InstanceUID, a.Description.HostName)
		}
		if err != nil {
			return nil, err
		}
		targets = append(targets, apitypes.ExperimentTarget{InstanceUID: a.InstanceUID, Host: a.Description.HostName,
			Previous: c.set.Assignments.Slim(ctx, prev)})
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("no online agent matches %q", x.Spec.Targets.Selector)
	}
	return c.assignVariants(x, targets)
}

// assignVariants splits split-mode targets into two cohorts,
// deterministically by instance UID.
func (c *Controller) assignVariants(x Experiment, targets []apitypes.ExperimentTarget) ([]apitypes.ExperimentTarget, error) {
	if x.Spec.Mode != apitypes.ModeSplit {
		for i := range targets {
			targets[i].Variant = apitypes.VariantBoth
		}
		return targets, nil
	}
	sort.Slice(targets, func(i, j int) bool { return cohortKey(targets[i].InstanceUID) < cohortKey(targets[j].InstanceUID) })
	for i := range targets {
		targets[i].Variant = apitypes.VariantBaseline
		if i%2 == 1 {
			targets[i].Variant = apitypes.VariantCandidate
		}
	}
	if len(targets) < 2 {
		return nil, fmt.Errorf("split mode needs at least two agents (one per cohort); %q matches %d", x.Spec.Targets.Selector, len(targets))
	}
	return targets, nil
}

func cohortKey(uid string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	return h.Sum64()
}

// render produces one target's configuration.
func (c *Controller) render(ctx context.Context, x Experiment, t apitypes.ExperimentTarget) (apitypes.Assignment, error) {
	base, err := c.baseline(x, t)
	if err != nil {
		return apitypes.Assignment{}, err
	}
	shared, err := c.sharedParams(x, t)
	if err != nil {
		return apitypes.Assignment{}, err
	}
	cand := catalog.Ref{Pipeline: x.Spec.Candidate.Pipeline, Params: x.Spec.Candidate.Parameters}
	switch t.Variant {
	case apitypes.VariantBoth:
		spec := catalog.PairedSpec{Baseline: base, Candidate: cand, Shared: shared, CandidateExports: x.Spec.Candidate.Export}
		if len(x.Spec.Candidates) > 0 {
			// Every candidate of several is a shadow beside the baseline.
			spec.Candidate, spec.Candidates, spec.CandidateExports = catalog.Ref{}, candidateRefs(x), false
		}
		asg, err := c.set.Assignments.RenderPaired(ctx, t.InstanceUID, spec)
		if err != nil {
			return asg, err
		}
		return asg, c.checkEnv(x, base.Pipeline, shared, asg.Config)
	case apitypes.VariantBaseline:
		return c.single(ctx, x, t.InstanceUID, base, shared, apitypes.VariantBaseline)
	default:
		return c.single(ctx, x, t.InstanceUID, cand, shared, apitypes.VariantCandidate)
	}
}

// candidateRefs are the spec's candidates as the catalog names them: the
// single candidate as "candidate", or each of several under its name.
func candidateRefs(x Experiment) []catalog.NamedRef {
	if len(x.Spec.Candidates) == 0 {
		return []catalog.NamedRef{{Name: apitypes.VariantCandidate, Pipeline: x.Spec.Candidate.Pipeline, Params: x.Spec.Candidate.Parameters}}
	}
	out := make([]catalog.NamedRef, len(x.Spec.Candidates))
	for i, c := range x.Spec.Candidates {
		out[i] = catalog.NamedRef{Name: c.Name, Pipeline: c.Pipeline, Params: c.Parameters}
	}
	return out
}

// single renders one pipeline on its own, labelled with a variant ("" for
// none: a promoted candidate is no longer a variant).
func (c *Controller) single(ctx context.Context, x Experiment, uid string, ref catalog.Ref, shared map[string]any, variant string) (apitypes.Assignment, error) {
	params := merged(shared, ref.Params)
	if _, ok := c.set.Catalog.Declares(ref.Pipeline, catalog.VariantParam); ok && variant != "" {
		params[catalog.VariantParam] = variant
	}
	asg, err := c.set.Assignments.Render(ctx, uid, ref.Pipeline, params)
	if err != nil {
		return asg, err
	}
	return asg, c.checkEnv(x, ref.Pipeline, params, asg.Config)
}

// checkEnv refuses a configuration whose env_var parameters name an
// environment variable that neither the spec names (the API checked those
// against its creator's grants) nor a caller without host access may name
// (assignment.Service.DeniedEnv). With a current baseline the parameters
// come from each agent's previous assignment too, which an admin may have
// given such a variable; the spec's own parameters could send it elsewhere.
func (c *Controller) checkEnv(x Experiment, pipeline string, params map[string]any, config string) error {
	named := map[string]bool{}
	for _, u := range c.set.Catalog.EnvUses(pipeline, x.Spec.Parameters) {
		named[u.Name] = true
	}
	var refused []string
	for _, u := range c.set.Assignments.DeniedEnv(pipeline, params, config) {
		if !named[u.Name] {
			refused = append(refused, fmt.Sprintf("parameter %s names environment variable %s", u.Param, u.Name))
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("%s, which agent_env_allowlist does not allow: an experiment sends only the variables its spec names "+
			"or the allowlist allows (docs/security.md)", strings.Join(refused, "; "))
	}
	return nil
}

// baseline is the baseline reference for a target: the spec's pipeline, or
// the agent's own previous catalog assignment (its variant parameters).
func (c *Controller) baseline(x Experiment, t apitypes.ExperimentTarget) (catalog.Ref, error) {
	if !x.Spec.Baseline.Current {
		return catalog.Ref{Pipeline: x.Spec.Baseline.Pipeline, Params: x.Spec.Baseline.Parameters}, nil
	}
	if t.Previous.Pipeline == "" {
		return catalog.Ref{}, errors.New("baseline current: the agent's assignment is a verbatim configuration, " +
			"not a catalog pipeline: name the baseline pipeline instead")
	}
	params := c.scoped(t.Previous.Pipeline, t.Previous.Parameters, catalog.ScopeVariant)
	// The previous cost_meter label gives way to the experiment's own
	// ("baseline"): a paired render refuses a variant it is given.
	delete(params, catalog.VariantParam)
	return catalog.Ref{Pipeline: t.Previous.Pipeline, Params: params}, nil
}

// sharedParams are the collector parameters both variants use: the agent's
// previous ones when the baseline is its current configuration, then the
// spec's and the critical rules. (The assignment service adds the server's
// per-agent parameters.)
func (c *Controller) sharedParams(x Experiment, t apitypes.ExperimentTarget) (map[string]any, error) {
	shared := map[string]any{}
	if x.Spec.Baseline.Current {
		shared = c.scoped(t.Previous.Pipeline, t.Previous.Parameters, catalog.ScopeCollector)
	}
	for k, v := range x.Spec.Parameters {
		shared[k] = v
	}
	if len(x.Spec.CriticalProcesses) > 0 {
		rules, err := asJSONValue(x.Spec.CriticalProcesses)
		if err != nil {
			return nil, err
		}
		shared[criticalRulesParam] = rules
	}
	return shared, nil
}

// scoped keeps the parameters of one scope.
func (c *Controller) scoped(pipeline string, params map[string]any, scope catalog.Scope) map[string]any {
	out := map[string]any{}
	for k, v := range params {
		if s, ok := c.set.Catalog.Declares(pipeline, k); ok && s == scope {
			out[k] = v
		}
	}
	return out
}

// asJSONValue turns a typed value into the generic form parameters take.
func asJSONValue(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(raw, &out)
}

func merged(maps ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// checkDeployment moves to running once every target applied its
// configuration, and fails (restoring all) when one cannot or time runs out.
func (c *Controller) checkDeployment(ctx context.Context, x Experiment, now time.Time) error {
	pending, progressed := 0, false
	for i := range x.State.Targets {
		t := &x.State.Targets[i]
		if t.Applied {
			continue
		}
		a, err := c.set.Store.GetAgent(ctx, t.InstanceUID)
		if err != nil {
			return err
		}
		switch {
		case a.Retrying(t.ConfigHash):
			// A slow start, not a bad configuration: the server sends it
			// again; say so once per attempt.
			if r := a.ApplyRetry; r.Attempts > t.ApplyRetries {
				t.ApplyRetries, progressed = r.Attempts, true
				c.event(ctx, x.ID, fmt.Sprintf("agent %s (%s) was not healthy within the supervisor's apply timeout (%d of %d); its configuration is sent again at %s",
					t.InstanceUID, t.Host, r.Attempts, r.Limit, r.NextAt.UTC().Format(time.RFC3339)))
			}
			pending++
		case slices.Contains(a.FailedConfigHashes, t.ConfigHash),
			a.RemoteConfig.Hash == t.ConfigHash && a.RemoteConfig.Status == apitypes.ConfigStatusFailed:
			return c.fail(ctx, x, fmt.Sprintf("agent %s (%s) could not apply its configuration: %s",
				t.InstanceUID, t.Host, a.RemoteConfig.ErrorMessage))
		case a.RemoteConfig.Hash == t.ConfigHash && a.RemoteConfig.Status == apitypes.ConfigStatusApplied && a.Health != nil && a.Health.Healthy:
			t.Applied, progressed = true, true
		default:
			resent, err := c.resumeAssignment(ctx, x, *t)
			if err != nil {
				return c.fail(ctx, x, err.Error())
			}
			progressed = progressed || resent
			pending++
		}
	}
	if pending > 0 {
		if now.Sub(x.State.DeployStartedAt) > x.Spec.DeployTimeout.D() {
			return c.fail(ctx, x, fmt.Sprintf("%d agent(s) did not apply their configuration within %s", pending, x.Spec.DeployTimeout.D()))
		}
		if !progressed {
			// Nothing to record: a write would wake every replica's Run,
			// which would step again and write again, for nothing.
			return nil
		}
		return c.save(ctx, &x) // keep per-target progress
	}
	x.State.RunningSince = now
	x.State.MeasureFrom = measureStart(now, x.Spec.Warmup.D())
	x.State.EndsAt = x.State.MeasureFrom.Add(x.Spec.Duration.D())
	return c.transition(ctx, x, apitypes.ExperimentRunning, "every target applied its configuration")
}

// resumeAssignment stores a target's configuration again when the deploy
// stopped (a crash, a store error) after saving the targets but before
// assigning this one: its stored assignment is still the one it had before.
// The configuration is rendered again from the same inputs and must hash
// the same. It reports whether it assigned anything.
func (c *Controller) resumeAssignment(ctx context.Context, x Experiment, t apitypes.ExperimentTarget) (bool, error) {
	cur, err := c.set.Store.GetAssignment(ctx, t.InstanceUID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return false, nil // the store is down: the next round retries
	case cur.ConfigHash == t.ConfigHash || cur.Generation != t.Previous.Generation:
		return false, nil // assigned, or changed by someone else since
	}
	asg, err := c.render(ctx, x, t)
	if err != nil {
		return false, fmt.Errorf("re-rendering for agent %s after an interrupted deploy: %w", t.InstanceUID, err)
	}
	if asg.ConfigHash != t.ConfigHash {
		return false, fmt.Errorf("agent %s: its configuration renders differently than when the deploy began (the catalog or the agent changed); start the experiment again", t.InstanceUID)
	}
	asg.Reason = "experiment " + x.Name + " (" + x.ID + "), resumed"
	if _, err := c.set.Assignments.Store(ctx, asg); err != nil {
		return false, nil
	}
	c.event(ctx, x.ID, fmt.Sprintf("agent %s (%s): the interrupted deploy assigned its configuration again", t.InstanceUID, t.Host))
	return true, nil
}

// restore gives every target its previous assignment back (idempotent).
func (c *Controller) restore(ctx context.Context, x *Experiment, reason string) error {
	if x.State.Restored || len(x.State.Targets) == 0 {
		return nil
	}
	var errs []error
	prevs := make([]apitypes.Assignment, 0, len(x.State.Targets))
	for _, t := range x.State.Targets {
		prev, err := c.set.Assignments.Restorable(ctx, t.Previous)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.InstanceUID, err))
			continue
		}
		prev.Reason, prev.AssignedAt, prev.Generation = reason, time.Time{}, 0
		prevs = append(prevs, prev)
	}
	// One store transaction per thousand targets, not one each.
	if stored, err := c.set.Assignments.Store(ctx, prevs...); err != nil {
		errs = append(errs, fmt.Errorf("%d of %d targets not restored: %w", len(prevs)-len(stored), len(x.State.Targets), err))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	x.State.Restored = true
	return nil
}

// measureStart is when measuring starts for an experiment running since
// now: after the warmup, at the next whole minute. Samples are kept one a
// minute, so a window of whole minutes holds duration/minute of them, each
// complete when the window ends; a window starting mid-minute would end
// with a sliver of a minute that most agents have not yet reported in.
func measureStart(now time.Time, warmup time.Duration) time.Time {
	at := now.Add(warmup)
	if whole := at.Truncate(time.Minute); !whole.Equal(at) {
		return whole.Add(time.Minute)
	}
	return at
}
