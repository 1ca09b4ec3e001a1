#!/usr/bin/env bash
# Builds the tools the end-to-end suite needs, with `go build` from the Go module proxy, into a cache outside
# the clone: one directory per tool and version, reused when present (a warm run takes seconds).
#
#   pulumi                     Pulumi CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
#   pulumi-resource-kubernetes Kubernetes provider (github.com/pulumi/pulumi-kubernetes/provider/v4), ambient plugin
#   pulumi-resource-command    stand-in for the command provider (test/e2e/tools/command-provider), ambient plugin
#   kube-apiserver, kube-controller-manager, kube-scheduler   (k8s.io/kubernetes)
#   etcd                       (go.etcd.io/etcd/server/v3)
#   kwok                       fake nodes and kubelets (sigs.k8s.io/kwok), with its stage definitions (kwok-stages/)
#
# Versions: test/e2e/tools/versions.env. Cache: $PKS_ISTIO_MESH_TOOLS (default ~/.cache/pks-istio-mesh/tools);
# its bin/ holds a link to every tool at the pinned version. Usage: test/e2e/tools.sh [--print-bin]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/versions.env
. "$here/tools/versions.env"
cache=${PKS_ISTIO_MESH_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/pks-istio-mesh/tools}
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
# BINARY is already there, then links the binaries into $cache/bin.
build() {
    local name=$1 version=$2
    shift 2
    local dir=$cache/$name-$version missing=0 b
    for b in "$@"; do [ -x "$dir/bin/$b" ] || missing=1; done
    if [ "$missing" = 1 ]; then
        local work started
        work=$(mktemp -d)
        started=$(date +%s)
        log "building $name $version (a first build takes minutes)"
        mkdir -p "$dir/bin"
        if ! (cd "$work" && "build_$name" "$dir" "$version") >"$work.log" 2>&1; then
            tail -n 40 "$work.log" >&2
            log "building $name $version failed (full log: $work.log)"
            exit 1
        fi
        rm -rf "$work" "$work.log"
        log "built $name $version in $(( $(date +%s) - started ))s"
    fi
    for b in "$@"; do ln -sfn "$dir/bin/$b" "$bin/$b"; done
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

build_kubernetes_provider() {
    local dir=$1 v=$KUBERNETES_PROVIDER_VERSION
    wrapper pks-istio-mesh/tools/kubernetes-provider 1.24.7 \
        "github.com/pulumi/pulumi-kubernetes/provider/v4@$KUBERNETES_PROVIDER_MODULE_VERSION" \
        "github.com/pulumi/pulumi-kubernetes/sdk/v4@$KUBERNETES_PROVIDER_SDK_VERSION"
    go mod download "github.com/pulumi/pulumi-kubernetes/provider/v4@$KUBERNETES_PROVIDER_MODULE_VERSION"
    local src
    src=$(go list -m -f '{{.Dir}}' "github.com/pulumi/pulumi-kubernetes/provider/v4")/cmd/pulumi-resource-kubernetes
    # What the provider's own generate step does: the schema with the version set, and the minified mapping.
    node -e '
        const fs = require("fs");
        const [schema, mapping, version] = process.argv.slice(1);
        const s = JSON.parse(fs.readFileSync(schema, "utf8"));
        s.version = version;
        fs.writeFileSync("schema-embed.json", JSON.stringify(s));
        fs.writeFileSync("terraform-mapping-embed.json", JSON.stringify(JSON.parse(fs.readFileSync(mapping, "utf8"))));
    ' "$src/schema.json" "$src/terraform-mapping.json" "$v"
    cp "$here/tools/kubernetes-provider/main.go" main.go
    go mod tidy
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$v" \
        -o "$dir/bin/pulumi-resource-kubernetes" .
}

build_command_provider() {
    local dir=$1 v=$COMMAND_PROVIDER_VERSION
    wrapper pks-istio-mesh/tools/command-provider 1.25.11 \
        "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
    go mod edit -replace="$CLIPBOARD_REPLACE"
    cp "$here/tools/command-provider/main.go" main.go
    go mod tidy
    go build -trimpath -ldflags "-s -w -X main.version=$v" -o "$dir/bin/pulumi-resource-command" .
}

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
    mkdir -p "$dir/stages"
    cp "$src/node/fast/node-initialize.yaml" "$src/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
        "$src/pod/fast/pod-ready.yaml" "$src/pod/fast/pod-complete.yaml" "$src/pod/fast/pod-delete.yaml" "$dir/stages/"
    chmod 0644 "$dir"/stages/*.yaml
}

started=$(date +%s)
build pulumi "$PULUMI_VERSION" pulumi
build kubernetes_provider "$KUBERNETES_PROVIDER_VERSION-${KUBERNETES_PROVIDER_MODULE_VERSION##*-}" pulumi-resource-kubernetes
build command_provider "$COMMAND_PROVIDER_VERSION-$(cksum < "$here/tools/command-provider/main.go" | cut -d' ' -f1)" pulumi-resource-command
build kubernetes "$KUBERNETES_VERSION" kube-apiserver kube-controller-manager kube-scheduler
build etcd "$ETCD_VERSION" etcd
build kwok "$KWOK_VERSION" kwok
ln -sfn "$cache/kwok-$KWOK_VERSION/stages" "$bin/kwok-stages"
log "all tools ready in $bin ($(( $(date +%s) - started ))s)"
