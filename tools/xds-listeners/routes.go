package main

// The routes istiod computes for the route configurations a proxy's listeners name (RDS): what the end-to-end
// suites read of a gateway's HTTP routing — each virtual host's domains and, per route, its path match and the
// cluster it sends to.

import (
	"fmt"
	"sort"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

const routeType = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"

// Route is what the suite reads of one route.
type Route struct {
	Name string `json:"name,omitempty"`
	// Match is the path match: exact:<path>, prefix:<prefix>, path-prefix:<prefix> (whole segments) or regex:<re>.
	Match string `json:"match"`
	// Clusters are the clusters the route sends to (several when weighted); empty for a redirect or direct answer.
	Clusters []string `json:"clusters"`
}

// VirtualHost is what the suite reads of one virtual host.
type VirtualHost struct {
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
	Routes  []Route  `json:"routes"`
}

// RouteConfig is what the suite reads of one route configuration.
type RouteConfig struct {
	Name         string        `json:"name"`
	VirtualHosts []VirtualHost `json:"virtualHosts"`
}

// rdsNames collects the route configurations a listener's HTTP connection managers take from RDS.
func rdsNames(manager *hcm.HttpConnectionManager, names map[string]bool) {
	if rds := manager.GetRds(); rds != nil && rds.RouteConfigName != "" {
		names[rds.RouteConfigName] = true
	}
}

func describeMatch(m *route.RouteMatch) string {
	switch p := m.GetPathSpecifier().(type) {
	case *route.RouteMatch_Path:
		return "exact:" + p.Path
	case *route.RouteMatch_Prefix:
		return "prefix:" + p.Prefix
	case *route.RouteMatch_PathSeparatedPrefix:
		return "path-prefix:" + p.PathSeparatedPrefix
	case *route.RouteMatch_SafeRegex:
		return "regex:" + p.SafeRegex.GetRegex()
	default:
		return fmt.Sprintf("other:%T", p)
	}
}

// fetchRoutes asks istiod, on the open ADS stream, for the named route configurations.
func fetchRoutes(stream discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient, names map[string]bool) ([]RouteConfig, error) {
	out := []RouteConfig{}
	if len(names) == 0 {
		return out, nil
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	if err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: routeType, ResourceNames: list}); err != nil {
		return nil, fmt.Errorf("requesting routes %v: %w", list, err)
	}
	var response *discovery.DiscoveryResponse
	for response == nil {
		r, err := stream.Recv()
		if err != nil {
			return nil, fmt.Errorf("reading istiod's routes: %w", err)
		}
		if r.TypeUrl == routeType {
			response = r
		}
	}
	_ = stream.Send(&discovery.DiscoveryRequest{TypeUrl: routeType, ResourceNames: list, VersionInfo: response.VersionInfo, ResponseNonce: response.Nonce})
	for _, resource := range response.Resources {
		rc := &route.RouteConfiguration{}
		if err := resource.UnmarshalTo(rc); err != nil {
			return nil, fmt.Errorf("decoding a route configuration: %w", err)
		}
		config := RouteConfig{Name: rc.Name, VirtualHosts: []VirtualHost{}}
		for _, vh := range rc.VirtualHosts {
			host := VirtualHost{Name: vh.Name, Domains: vh.Domains, Routes: []Route{}}
			for _, r := range vh.Routes {
				described := Route{Name: r.Name, Match: describeMatch(r.Match), Clusters: []string{}}
				if action := r.GetRoute(); action != nil {
					if c := action.GetCluster(); c != "" {
						described.Clusters = append(described.Clusters, c)
					}
					for _, w := range action.GetWeightedClusters().GetClusters() {
						described.Clusters = append(described.Clusters, w.Name)
					}
				}
				host.Routes = append(host.Routes, described)
			}
			config.VirtualHosts = append(config.VirtualHosts, host)
		}
		out = append(out, config)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
