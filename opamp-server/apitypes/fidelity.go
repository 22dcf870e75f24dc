package apitypes

// Fidelity is what a candidate's pipeline keeps of the processes it meters,
// from cost_meter's fidelity figures (docs/experiment-results.md,
// "Fidelity"). Every figure is optional: it is absent when the collectors
// did not export the series it needs or when the mode cannot measure it,
// and Notes say why.
type Fidelity struct {
	// Variant is the variant described: the candidate.
	Variant string `json:"variant"`
	// Agents is how many agents contributed fidelity figures.
	Agents int `json:"agents"`
	// CPUCoverage is the share of the processes' CPU time the candidate
	// attributes to per-process series; MemoryCoverage likewise with
	// memory. In paired mode the whole is the baseline's (attributed +
	// rolled up); in split mode the candidate's own, an upper bound when
	// its pipeline drops processes (CoverageUpperBound).
	CPUCoverage        *float64 `json:"cpu_coverage,omitempty"`
	MemoryCoverage     *float64 `json:"memory_coverage,omitempty"`
	CoverageUpperBound bool     `json:"coverage_upper_bound,omitempty"`
	// Conservation compares, per quantity, what the candidate exports in
	// total (attributed + rolled up) with the baseline's; paired mode only.
	Conservation []Conservation `json:"conservation,omitempty"`
	// Conserved reports that every quantity in Conservation is conserved
	// within 1%; absent when none was measured.
	Conserved *bool `json:"conserved,omitempty"`
	// BlindSpotsPerHour is how many distinct notable processes per agent
	// and hour the candidate did not export as per-process series;
	// NotableProcessesPerHour how many the baseline saw first notable, per
	// agent and hour. Paired mode only.
	BlindSpotsPerHour       *float64 `json:"blind_spots_per_hour,omitempty"`
	NotableProcessesPerHour *float64 `json:"notable_processes_per_hour,omitempty"`
	// BlindSpotExamples are the worst blind spots of the window by peak,
	// CPU ones first.
	BlindSpotExamples []BlindSpotExample `json:"blind_spot_examples,omitempty"`
	// Notes say which figures are missing and why, and their limits.
	Notes []string `json:"notes,omitempty"`
}

// Conservation quantities.
const (
	QuantityCPU       = "cpu"
	QuantityMemory    = "memory"
	QuantityDisk      = "disk"
	QuantityNetwork   = "network"
	QuantityProcesses = "processes"
)

// ConservationTolerance is the conservation error under which a quantity
// counts as conserved: 1%.
const ConservationTolerance = 0.01

// Conservation is one quantity's total (attributed + rolled up) in each
// variant, summed over the agents, and the candidate's relative error.
type Conservation struct {
	// Quantity is cpu (seconds), memory (byte-scrapes), disk and network
	// (bytes) or processes (process-scrapes).
	Quantity  string  `json:"quantity"`
	Baseline  float64 `json:"baseline"`
	Candidate float64 `json:"candidate"`
	// Error is |candidate − baseline| / baseline.
	Error float64 `json:"error"`
	// Under1Percent reports Error < ConservationTolerance.
	Under1Percent bool `json:"under_1_percent"`
}

// Blind-spot example resources.
const (
	ResourceCPU    = "cpu"
	ResourceMemory = "memory"
)

// BlindSpotExample is one notable process the candidate did not keep.
type BlindSpotExample struct {
	// Name is the process's executable name, Host its host.name.
	Name string `json:"name"`
	Host string `json:"host"`
	// InstanceUID is the agent that reported it.
	InstanceUID string `json:"instance_uid"`
	// Resource is what made it notable: cpu or memory.
	Resource string `json:"resource"`
	// Peak is the highest value seen in the window: CPU in cores, memory
	// in bytes.
	Peak float64 `json:"peak"`
}
