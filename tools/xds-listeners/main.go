// xds-listeners asks istiod, over its plaintext xDS port, for the listeners it computes for one workload, the way
// that workload's Envoy would ask, and prints what the end-to-end suite checks of them as JSON on stdout: for every
// filter chain, its match (destination port, transport protocol), the RBAC filters (HTTP and network) that
// istiod derived from AuthorizationPolicies, and the HTTP connection manager's tracing and access-log settings
// that it derived from the Telemetry API; and the routes of the route configurations those listeners take from
// RDS, for a gateway (routes.go: its HTTP routing).
//
// The node ID is the one the Istio agent sends, <type>~<pod IP>~<pod>.<namespace>~<namespace>.svc.<domain>, with
// the node metadata istiod reads to place the proxy (ISTIO_VERSION, CLUSTER_ID, NAMESPACE, INSTANCE_IPS,
// INTERCEPTION_MODE, ...). istiod finds the pod by that name (and IP) in its Kubernetes registry, so the pod must
// exist with that IP; a Service selecting it gives the inbound filter chains.
//
// Usage: xds-listeners --xds 127.0.0.1:15010 --pod NAME --namespace NS --ip IP [--type sidecar|router|waypoint|ztunnel]
//
//	[--service-account SA] [--cluster-id Kubernetes] [--istio-version 1.30.3] [--domain cluster.local] [--timeout 30s]
//
// Exit status 1 with one line on stderr (`xds-listeners: <what>: <why>`) when istiod refuses or does not answer.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	httprbac "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	netrbac "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	// Registers every Envoy and Istio extension type that istiod puts into listeners, so that their typed
	// configs (tracing providers, access loggers) print as JSON.
	_ "istio.io/istio/pkg/config/xds"
)

const listenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"

// RBAC is one RBAC filter of a filter chain.
type RBAC struct {
	// Filter is the filter's name, e.g. envoy.filters.http.rbac or envoy.filters.network.rbac.
	Filter string `json:"filter"`
	// Level is "http" or "network".
	Level string `json:"level"`
	// Config is the filter's RBAC configuration, as Envoy's JSON (proto field names).
	Config json.RawMessage `json:"config"`
}

// FilterChain is what the suite reads of one filter chain.
type FilterChain struct {
	Name                 string            `json:"name"`
	DestinationPort      uint32            `json:"destinationPort,omitempty"`
	TransportProtocol    string            `json:"transportProtocol,omitempty"`
	ApplicationProtocols []string          `json:"applicationProtocols,omitempty"`
	RBAC                 []RBAC            `json:"rbac"`
	Tracing              json.RawMessage   `json:"tracing,omitempty"`
	AccessLog            []json.RawMessage `json:"accessLog,omitempty"`
}

// Listener is what the suite reads of one listener.
type Listener struct {
	Name             string        `json:"name"`
	Address          string        `json:"address,omitempty"`
	Port             uint32        `json:"port,omitempty"`
	TrafficDirection string        `json:"trafficDirection,omitempty"`
	FilterChains     []FilterChain `json:"filterChains"`
}

// Dump is the tool's output.
type Dump struct {
	Node      string     `json:"node"`
	Version   string     `json:"version"`
	Listeners []Listener `json:"listeners"`
	// Routes are the route configurations the listeners take from RDS (a gateway's HTTP routing).
	Routes []RouteConfig `json:"routes"`
}

var marshal = protojson.MarshalOptions{UseProtoNames: true}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "xds-listeners: %s: %v\n", what, err)
	os.Exit(1)
}

func main() {
	xds := flag.String("xds", "", "istiod's plaintext xDS address (host:port)")
	nodeType := flag.String("type", "sidecar", "proxy type: sidecar, router (a gateway), waypoint or ztunnel")
	pod := flag.String("pod", "", "the pod's name")
	namespace := flag.String("namespace", "", "the pod's namespace")
	ip := flag.String("ip", "", "the pod's IP")
	serviceAccount := flag.String("service-account", "", "the pod's service account (node metadata)")
	clusterID := flag.String("cluster-id", "Kubernetes", "istiod's cluster ID")
	istioVersion := flag.String("istio-version", "1.30.3", "the proxy's Istio version (node metadata)")
	domain := flag.String("domain", "cluster.local", "the cluster's DNS domain")
	timeout := flag.Duration("timeout", 30*time.Second, "how long to wait for istiod's answer")
	flag.Parse()
	if *xds == "" || *pod == "" || *namespace == "" || *ip == "" {
		fail("arguments", fmt.Errorf("--xds, --pod, --namespace and --ip are required"))
	}
	if *nodeType != "sidecar" && *nodeType != "router" && *nodeType != "waypoint" && *nodeType != "ztunnel" {
		fail("arguments", fmt.Errorf("--type must be sidecar, router, waypoint or ztunnel, not %q", *nodeType))
	}

	node := &core.Node{
		Id: strings.Join([]string{*nodeType, *ip, *pod + "." + *namespace, *namespace + ".svc." + *domain}, "~"),
	}
	metadata := map[string]any{
		"ISTIO_VERSION":     *istioVersion,
		"CLUSTER_ID":        *clusterID,
		"NAMESPACE":         *namespace,
		"INSTANCE_IPS":      *ip,
		"INTERCEPTION_MODE": "REDIRECT",
		"NAME":              *pod,
	}
	if *serviceAccount != "" {
		metadata["SERVICE_ACCOUNT"] = *serviceAccount
	}
	meta, err := structpb.NewStruct(metadata)
	if err != nil {
		fail("node metadata", err)
	}
	node.Metadata = meta

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	conn, err := grpc.NewClient(*xds, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		fail("connecting to "+*xds, err)
	}
	defer conn.Close()
	client := discovery.NewAggregatedDiscoveryServiceClient(conn)
	stream, err := client.StreamAggregatedResources(ctx)
	if err != nil {
		fail("opening the ADS stream to "+*xds, err)
	}
	if *nodeType == "ztunnel" {
		// A ztunnel asks for workloads and authorizations (ztunnel.go), not listeners.
		out, err := dumpZtunnel(ctx, client, stream, node)
		if err != nil {
			fail("ztunnel configuration for "+node.Id, err)
		}
		_ = stream.CloseSend()
		encoder := json.NewEncoder(os.Stdout)
		encoder.SetIndent("", "  ")
		if err := encoder.Encode(out); err != nil {
			fail("writing the dump", err)
		}
		return
	}
	if err := stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: listenerType}); err != nil {
		fail("requesting listeners", err)
	}
	var response *discovery.DiscoveryResponse
	for response == nil {
		r, err := stream.Recv()
		if err != nil {
			fail("reading istiod's answer for "+node.Id, err)
		}
		if r.TypeUrl == listenerType {
			response = r
		}
	}
	// Acknowledge, as Envoy would, then close the stream.
	_ = stream.Send(&discovery.DiscoveryRequest{TypeUrl: listenerType, VersionInfo: response.VersionInfo, ResponseNonce: response.Nonce})

	dump := Dump{Node: node.Id, Version: response.VersionInfo, Listeners: []Listener{}}
	routeNames := map[string]bool{}
	for _, resource := range response.Resources {
		l := &listener.Listener{}
		if err := resource.UnmarshalTo(l); err != nil {
			fail("decoding a listener", err)
		}
		if *nodeType == "router" || *nodeType == "waypoint" {
			collectRouteNames(l, routeNames)
		}
		out, err := describeListener(l)
		if err != nil {
			fail("reading listener "+l.Name, err)
		}
		dump.Listeners = append(dump.Listeners, out)
	}
	sort.Slice(dump.Listeners, func(i, j int) bool { return dump.Listeners[i].Name < dump.Listeners[j].Name })
	if dump.Routes, err = fetchRoutes(stream, routeNames); err != nil {
		fail("routes of "+node.Id, err)
	}
	_ = stream.CloseSend()
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(dump); err != nil {
		fail("writing the dump", err)
	}
}

// collectRouteNames adds the RDS route configurations of a listener's HTTP connection managers.
func collectRouteNames(l *listener.Listener, names map[string]bool) {
	chains := l.FilterChains
	if l.DefaultFilterChain != nil {
		chains = append(chains, l.DefaultFilterChain)
	}
	for _, fc := range chains {
		for _, f := range fc.Filters {
			manager := &hcm.HttpConnectionManager{}
			if t := f.GetTypedConfig(); t != nil && t.MessageIs(manager) && t.UnmarshalTo(manager) == nil {
				rdsNames(manager, names)
			}
		}
	}
}

func describeListener(l *listener.Listener) (Listener, error) {
	out := Listener{Name: l.Name, FilterChains: []FilterChain{}}
	if sa := l.GetAddress().GetSocketAddress(); sa != nil {
		out.Address = sa.GetAddress()
		out.Port = sa.GetPortValue()
	}
	if l.TrafficDirection != core.TrafficDirection_UNSPECIFIED {
		out.TrafficDirection = l.TrafficDirection.String()
	}
	chains := l.FilterChains
	if l.DefaultFilterChain != nil {
		chains = append(chains, l.DefaultFilterChain)
	}
	for _, fc := range chains {
		chain := FilterChain{Name: fc.Name, RBAC: []RBAC{}}
		if m := fc.FilterChainMatch; m != nil {
			chain.DestinationPort = m.GetDestinationPort().GetValue()
			chain.TransportProtocol = m.TransportProtocol
			chain.ApplicationProtocols = m.ApplicationProtocols
		}
		for _, f := range fc.Filters {
			if err := describeNetworkFilter(f, &chain); err != nil {
				return out, fmt.Errorf("filter chain %s, filter %s: %w", fc.Name, f.Name, err)
			}
		}
		out.FilterChains = append(out.FilterChains, chain)
	}
	return out, nil
}

func describeNetworkFilter(f *listener.Filter, chain *FilterChain) error {
	typed := f.GetTypedConfig()
	if typed == nil {
		return nil
	}
	switch {
	case typed.MessageIs(&netrbac.RBAC{}):
		return appendRBAC(chain, f.Name, "network", typed, &netrbac.RBAC{})
	case typed.MessageIs(&hcm.HttpConnectionManager{}):
		manager := &hcm.HttpConnectionManager{}
		if err := typed.UnmarshalTo(manager); err != nil {
			return err
		}
		for _, hf := range manager.HttpFilters {
			if t := hf.GetTypedConfig(); t != nil && t.MessageIs(&httprbac.RBAC{}) {
				if err := appendRBAC(chain, hf.Name, "http", t, &httprbac.RBAC{}); err != nil {
					return err
				}
			}
		}
		if manager.Tracing != nil {
			text, err := marshal.Marshal(manager.Tracing)
			if err != nil {
				return fmt.Errorf("tracing: %w", err)
			}
			chain.Tracing = text
		}
		for _, log := range manager.AccessLog {
			text, err := marshal.Marshal(log)
			if err != nil {
				return fmt.Errorf("access log %s: %w", log.Name, err)
			}
			chain.AccessLog = append(chain.AccessLog, text)
		}
	}
	return nil
}

func appendRBAC(chain *FilterChain, name, level string, typed *anypb.Any, config proto.Message) error {
	if err := typed.UnmarshalTo(config); err != nil {
		return err
	}
	text, err := marshal.Marshal(config)
	if err != nil {
		return err
	}
	chain.RBAC = append(chain.RBAC, RBAC{Filter: name, Level: level, Config: text})
	return nil
}
