package deployments_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// peer is a pod as NetworkPolicy sees it.
type peer struct {
	Namespace string
	Labels    map[string]string
}

// netPolicies evaluates the rendered NetworkPolicies for pods in the
// deployment's namespace. It knows the subset the manifests use: pod and
// namespace selectors, numeric ports, and rules without peers (anywhere).
type netPolicies struct {
	tb       testing.TB
	policies []*networkingv1.NetworkPolicy
}

func (n netPolicies) selecting(pod peer, typ networkingv1.PolicyType) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for _, p := range n.policies {
		if pod.Namespace == p.Namespace && selects(n.tb, &p.Spec.PodSelector, pod.Labels) && hasType(p, typ) {
			out = append(out, p)
		}
	}
	return out
}

func hasType(p *networkingv1.NetworkPolicy, typ networkingv1.PolicyType) bool {
	for _, t := range p.Spec.PolicyTypes {
		if t == typ {
			return true
		}
	}
	return false
}

func (n netPolicies) peerMatches(peers []networkingv1.NetworkPolicyPeer, policyNS string, other peer) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if p.IPBlock != nil {
			continue // addresses outside the cluster, never a pod here
		}
		nsOK := other.Namespace == policyNS
		if p.NamespaceSelector != nil {
			// Any namespace the selector matches; the tests' namespaces
			// carry no labels, so only an empty selector matches them.
			nsOK = selects(n.tb, p.NamespaceSelector, nil)
		}
		podOK := p.PodSelector == nil || selects(n.tb, p.PodSelector, other.Labels)
		if nsOK && podOK {
			return true
		}
	}
	return false
}

func portMatches(ports []networkingv1.NetworkPolicyPort, port int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if (p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP) && p.Port != nil && p.Port.IntVal == port {
			return true
		}
	}
	return false
}

// allows reports whether TCP traffic from one pod to another on port is
// allowed: by the destination's ingress and the source's egress policies
// (a pod no policy of a type selects is open in that direction).
func (n netPolicies) allows(from, to peer, port int32) bool {
	ingressOK, egressOK := true, true
	if in := n.selecting(to, networkingv1.PolicyTypeIngress); len(in) > 0 {
		ingressOK = false
		for _, p := range in {
			for _, r := range p.Spec.Ingress {
				ingressOK = ingressOK || (n.peerMatches(r.From, p.Namespace, from) && portMatches(r.Ports, port))
			}
		}
	}
	if out := n.selecting(from, networkingv1.PolicyTypeEgress); len(out) > 0 {
		egressOK = false
		for _, p := range out {
			for _, r := range p.Spec.Egress {
				egressOK = egressOK || (n.peerMatches(r.To, p.Namespace, to) && portMatches(r.Ports, port))
			}
		}
	}
	return ingressOK && egressOK
}

func TestNetworkPolicies(t *testing.T) {
	for name, objs := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			n := netPolicies{tb: t, policies: ofType[*networkingv1.NetworkPolicy](objs)}
			pods := map[string]peer{}
			for _, w := range workloads(objs) {
				pods[w.Name] = peer{Namespace: "phoenix", Labels: w.Template.Labels}
			}
			server, collector := pods["phoenix-server"], pods["phoenix-collector"]
			stranger := peer{Namespace: "phoenix", Labels: map[string]string{"app": "other"}}
			elsewhere := peer{Namespace: "apps", Labels: map[string]string{"app": "other"}}
			apiClient := peer{Namespace: "monitoring", Labels: map[string]string{"phoenix/api-client": "true"}}
			internet := peer{Namespace: "", Labels: nil}

			for _, p := range n.policies {
				if p.Name == "default-deny" {
					assert.Empty(t, p.Spec.PodSelector.MatchLabels, "default-deny selects every pod")
					assert.Empty(t, p.Spec.Ingress)
					assert.Empty(t, p.Spec.Egress)
					assert.ElementsMatch(t, []networkingv1.PolicyType{"Ingress", "Egress"}, p.Spec.PolicyTypes)
					continue
				}
				used := false
				for _, pod := range pods {
					used = used || selects(t, &p.Spec.PodSelector, pod.Labels)
				}
				assert.True(t, used, "NetworkPolicy %s selects no pod", p.Name)
			}

			for _, port := range []int32{4320, 8080} {
				assert.True(t, n.allows(collector, server, port), "collector → server :%d", port)
				assert.False(t, n.allows(stranger, server, port), "another pod → server :%d", port)
				assert.False(t, n.allows(elsewhere, server, port), "another namespace → server :%d", port)
			}
			assert.True(t, n.allows(apiClient, server, 8080), "labelled API client → server API")
			assert.False(t, n.allows(apiClient, server, 4320), "API clients do not speak OpAMP")
			assert.True(t, n.allows(server, internet, 5432), "server → PostgreSQL")
			assert.False(t, n.allows(server, internet, 443), "the server calls nothing else")
			assert.False(t, n.allows(server, collector, 13133), "nothing reaches collectors")
			assert.False(t, n.allows(stranger, collector, 13133))
			assert.True(t, n.allows(apiClient, collector, 8888), "Prometheus → collector telemetry")
			assert.False(t, n.allows(apiClient, collector, 13133), "Prometheus reaches telemetry only")
			assert.False(t, n.allows(stranger, collector, 8888), "unlabelled pods do not scrape collectors")
			assert.True(t, n.allows(collector, internet, 4317), "collector → OTLP destination")
			assert.False(t, n.allows(collector, internet, 5432), "collectors never reach the database")

			if pg, ok := pods["phoenix-postgres"]; ok {
				assert.True(t, n.allows(server, pg, 5432), "server → PostgreSQL")
				assert.False(t, n.allows(collector, pg, 5432), "collector → PostgreSQL")
				assert.False(t, n.allows(stranger, pg, 5432))
				assert.False(t, n.allows(pg, internet, 443), "PostgreSQL connects nowhere")
			}
		})
	}
}

func TestNetworkPolicyEvaluator(t *testing.T) {
	tcp := corev1.ProtocolTCP
	port := func(p int32) *intstr.IntOrString { v := intstr.FromInt32(p); return &v }
	policy := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			PolicyTypes: []networkingv1.PolicyType{"Ingress"},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: port(5432)}},
			}},
		},
	}
	n := netPolicies{tb: t, policies: []*networkingv1.NetworkPolicy{policy}}
	db := peer{"ns", map[string]string{"app": "db"}}
	api := peer{"ns", map[string]string{"app": "api"}}
	assert.True(t, n.allows(api, db, 5432))
	assert.False(t, n.allows(api, db, 80), "other port")
	assert.False(t, n.allows(peer{"other", api.Labels}, db, 5432), "same labels, other namespace")
	assert.False(t, n.allows(db, db, 5432), "other pod")
	assert.True(t, n.allows(db, api, 80), "no policy selects api")
}
