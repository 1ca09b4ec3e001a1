package main

// What istiod serves a ztunnel (ambient mode's node proxy): the workloads it knows, each with its addresses,
// identity, tunnel protocol (HBONE: captured by ambient mode) and waypoint, and the authorizations ztunnel enforces
// (istio.workload.Address and istio.security.Authorization), asked as a ztunnel on the node would.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"

	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"
)

const (
	addressType       = "type.googleapis.com/istio.workload.Address"
	authorizationType = "type.googleapis.com/istio.security.Authorization"
)

// ZtunnelWorkload is what the suite reads of one workload.
type ZtunnelWorkload struct {
	Name           string   `json:"name"`
	Namespace      string   `json:"namespace"`
	Addresses      []string `json:"addresses"`
	ServiceAccount string   `json:"serviceAccount"`
	TrustDomain    string   `json:"trustDomain"`
	TunnelProtocol string   `json:"tunnelProtocol"`
	// Waypoint is the waypoint's address or hostname, when the workload's traffic goes through one.
	Waypoint string `json:"waypoint,omitempty"`
}

// ZtunnelDump is the tool's output for --type ztunnel.
type ZtunnelDump struct {
	Node           string            `json:"node"`
	Workloads      []ZtunnelWorkload `json:"workloads"`
	Authorizations []map[string]any  `json:"authorizations"`
}

// fetchAll asks istiod (SotW, every resource of the type; node on a stream's first request) and returns its
// first answer, acknowledged.
func fetchAll(stream discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient, typeURL string, node *core.Node) (*discovery.DiscoveryResponse, error) {
	request := &discovery.DiscoveryRequest{TypeUrl: typeURL, Node: node}
	if err := stream.Send(request); err != nil {
		return nil, fmt.Errorf("requesting %s: %w", typeURL, err)
	}
	for {
		r, err := stream.Recv()
		if err != nil {
			return nil, fmt.Errorf("reading istiod's %s: %w", typeURL, err)
		}
		if r.TypeUrl == typeURL {
			_ = stream.Send(&discovery.DiscoveryRequest{TypeUrl: typeURL, VersionInfo: r.VersionInfo, ResponseNonce: r.Nonce})
			return r, nil
		}
	}
}

func describeWaypoint(w *workloadapi.GatewayAddress) string {
	if w == nil {
		return ""
	}
	if h := w.GetHostname(); h != nil {
		return h.GetNamespace() + "/" + h.GetHostname()
	}
	if a := w.GetAddress(); a != nil {
		if ip, ok := netip.AddrFromSlice(a.GetAddress()); ok {
			return ip.String()
		}
	}
	return "set"
}

// fetchAddresses asks istiod for every address, over delta xDS as ztunnel does: istiod serves the wildcard
// subscription of addresses only there (a state-of-the-world request names no resource, and gets none).
func fetchAddresses(ctx context.Context, client discovery.AggregatedDiscoveryServiceClient, node *core.Node) ([]*discovery.Resource, error) {
	stream, err := client.DeltaAggregatedResources(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening the delta stream: %w", err)
	}
	defer func() { _ = stream.CloseSend() }()
	if err := stream.Send(&discovery.DeltaDiscoveryRequest{Node: node, TypeUrl: addressType}); err != nil {
		return nil, fmt.Errorf("requesting addresses: %w", err)
	}
	for {
		r, err := stream.Recv()
		if err != nil {
			return nil, fmt.Errorf("reading istiod's addresses: %w", err)
		}
		if r.TypeUrl == addressType {
			_ = stream.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: addressType, ResponseNonce: r.Nonce})
			return r.Resources, nil
		}
	}
}

// dumpZtunnel asks for the workloads (delta) and authorizations (state of the world, on stream, whose first
// request carries the node) of a ztunnel.
func dumpZtunnel(ctx context.Context, client discovery.AggregatedDiscoveryServiceClient, stream discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient, node *core.Node) (ZtunnelDump, error) {
	dump := ZtunnelDump{Node: node.Id, Workloads: []ZtunnelWorkload{}, Authorizations: []map[string]any{}}
	addresses, err := fetchAddresses(ctx, client, node)
	if err != nil {
		return dump, err
	}
	for _, resource := range addresses {
		a := &workloadapi.Address{}
		if err := resource.Resource.UnmarshalTo(a); err != nil {
			return dump, fmt.Errorf("decoding an address: %w", err)
		}
		w := a.GetWorkload()
		if w == nil {
			continue
		}
		out := ZtunnelWorkload{Name: w.GetName(), Namespace: w.GetNamespace(), Addresses: []string{}, ServiceAccount: w.GetServiceAccount(),
			TrustDomain: w.GetTrustDomain(), TunnelProtocol: w.GetTunnelProtocol().String(), Waypoint: describeWaypoint(w.GetWaypoint())}
		for _, raw := range w.GetAddresses() {
			if ip, ok := netip.AddrFromSlice(raw); ok {
				out.Addresses = append(out.Addresses, ip.String())
			}
		}
		dump.Workloads = append(dump.Workloads, out)
	}
	sort.Slice(dump.Workloads, func(i, j int) bool {
		return dump.Workloads[i].Namespace+"/"+dump.Workloads[i].Name < dump.Workloads[j].Namespace+"/"+dump.Workloads[j].Name
	})
	authorizations, err := fetchAll(stream, authorizationType, node)
	if err != nil {
		return dump, err
	}
	for _, resource := range authorizations.Resources {
		a := &security.Authorization{}
		if err := resource.UnmarshalTo(a); err != nil {
			return dump, fmt.Errorf("decoding an authorization: %w", err)
		}
		text, err := marshal.Marshal(proto.Message(a))
		if err != nil {
			return dump, err
		}
		var generic map[string]any
		if err := json.Unmarshal(text, &generic); err != nil {
			return dump, err
		}
		dump.Authorizations = append(dump.Authorizations, generic)
	}
	sort.Slice(dump.Authorizations, func(i, j int) bool {
		return fmt.Sprint(dump.Authorizations[i]["namespace"], dump.Authorizations[i]["name"]) < fmt.Sprint(dump.Authorizations[j]["namespace"], dump.Authorizations[j]["name"])
	})
	return dump, nil
}
