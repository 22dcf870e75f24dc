package store

import (
	"context"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// DefaultCallTimeout bounds each store call the server makes: a store that
// stops answering (a frozen PostgreSQL) turns into errors, and API requests
// into 503s, within seconds instead of hanging.
const DefaultCallTimeout = 4 * time.Second

// WithDeadlines returns st with every call bounded by timeout, or by the
// caller's own deadline when that is sooner. Watch is a stream that lives
// as long as its context, and is left alone.
func WithDeadlines(st Store, timeout time.Duration) Store {
	if timeout <= 0 {
		return st
	}
	return &deadlineStore{Store: st, timeout: timeout}
}

type deadlineStore struct {
	Store
	timeout time.Duration
}

func (d *deadlineStore) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.timeout)
}

func (d *deadlineStore) UpsertAgent(ctx context.Context, a apitypes.Agent) error {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.UpsertAgent(ctx, a)
}

func (d *deadlineStore) GetAgent(ctx context.Context, uid string) (apitypes.Agent, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.GetAgent(ctx, uid)
}

func (d *deadlineStore) GetAgentBrief(ctx context.Context, uid string) (apitypes.Agent, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.GetAgentBrief(ctx, uid)
}

func (d *deadlineStore) ListAgents(ctx context.Context, f AgentFilter, p Page) ([]apitypes.Agent, string, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.ListAgents(ctx, f, p)
}

func (d *deadlineStore) DeleteAgent(ctx context.Context, uid string) error {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.DeleteAgent(ctx, uid)
}

func (d *deadlineStore) DeleteAgentsOfflineSince(ctx context.Context, t time.Time) ([]string, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.DeleteAgentsOfflineSince(ctx, t)
}

func (d *deadlineStore) MarkServerAgentsOffline(ctx context.Context, serverID string) error {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.MarkServerAgentsOffline(ctx, serverID)
}

func (d *deadlineStore) SetAssignment(ctx context.Context, a apitypes.Assignment) (apitypes.Assignment, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.SetAssignment(ctx, a)
}

func (d *deadlineStore) GetAssignment(ctx context.Context, uid string) (apitypes.Assignment, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.GetAssignment(ctx, uid)
}

func (d *deadlineStore) GetAssignments(ctx context.Context, uids []string) (map[string]apitypes.Assignment, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.GetAssignments(ctx, uids)
}

func (d *deadlineStore) GetAssignmentHeads(ctx context.Context, uids []string) (map[string]apitypes.Assignment, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.GetAssignmentHeads(ctx, uids)
}

func (d *deadlineStore) GetAssignmentBriefs(ctx context.Context, uids []string) (map[string]apitypes.Assignment, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.GetAssignmentBriefs(ctx, uids)
}

func (d *deadlineStore) DeleteAssignment(ctx context.Context, uid string) error {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.DeleteAssignment(ctx, uid)
}

func (d *deadlineStore) PutSamples(ctx context.Context, samples []apitypes.Sample) error {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.PutSamples(ctx, samples)
}

func (d *deadlineStore) QuerySamples(ctx context.Context, q SampleQuery) ([]apitypes.Sample, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.QuerySamples(ctx, q)
}

func (d *deadlineStore) QueryAgentsSamples(ctx context.Context, uids []string, q SampleQuery) (map[string][]apitypes.Sample, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.QueryAgentsSamples(ctx, uids, q)
}

func (d *deadlineStore) DeleteSamplesBefore(ctx context.Context, t time.Time) error {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.DeleteSamplesBefore(ctx, t)
}

func (d *deadlineStore) CreateExperiment(ctx context.Context, e Experiment) (Experiment, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.CreateExperiment(ctx, e)
}

func (d *deadlineStore) GetExperiment(ctx context.Context, id string) (Experiment, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.GetExperiment(ctx, id)
}

func (d *deadlineStore) ListExperiments(ctx context.Context, f ExperimentFilter, p Page) ([]Experiment, string, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.ListExperiments(ctx, f, p)
}

func (d *deadlineStore) UpdateExperiment(ctx context.Context, e Experiment) (Experiment, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.UpdateExperiment(ctx, e)
}

func (d *deadlineStore) AppendExperimentEvent(ctx context.Context, ev apitypes.ExperimentEvent) (apitypes.ExperimentEvent, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.AppendExperimentEvent(ctx, ev)
}

func (d *deadlineStore) ListExperimentEvents(ctx context.Context, id string) ([]apitypes.ExperimentEvent, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.ListExperimentEvents(ctx, id)
}

func (d *deadlineStore) Ping(ctx context.Context) error {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.Ping(ctx)
}

func (d *deadlineStore) CreateAgentCredential(ctx context.Context, c AgentCredential) error {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.CreateAgentCredential(ctx, c)
}

func (d *deadlineStore) GetAgentCredential(ctx context.Context, uid string) (AgentCredential, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.GetAgentCredential(ctx, uid)
}

func (d *deadlineStore) AgentCredentialByDigest(ctx context.Context, digest string, now time.Time) (AgentCredential, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.AgentCredentialByDigest(ctx, digest, now)
}

func (d *deadlineStore) RotateAgentCredential(ctx context.Context, uid, digest string, previousValidUntil, now time.Time) (AgentCredential, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.RotateAgentCredential(ctx, uid, digest, previousValidUntil, now)
}

func (d *deadlineStore) DeleteAgentCredential(ctx context.Context, uid string) error {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.DeleteAgentCredential(ctx, uid)
}

func (d *deadlineStore) SetAssignments(ctx context.Context, asgs []apitypes.Assignment) ([]apitypes.Assignment, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.SetAssignments(ctx, asgs)
}

func (d *deadlineStore) CreateRollout(ctx context.Context, r Rollout) (Rollout, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.CreateRollout(ctx, r)
}

func (d *deadlineStore) GetRollout(ctx context.Context, id string) (Rollout, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.GetRollout(ctx, id)
}

func (d *deadlineStore) ListRollouts(ctx context.Context, f RolloutFilter) ([]Rollout, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.ListRollouts(ctx, f)
}

func (d *deadlineStore) UpdateRollout(ctx context.Context, r Rollout) (Rollout, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.UpdateRollout(ctx, r)
}
