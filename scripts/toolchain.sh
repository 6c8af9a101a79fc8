#!/usr/bin/env bash
# Builds the e2e toolchain from published Go modules (nothing prebuilt is downloaded) into
# .toolchain/ (ignored): the Pulumi CLI and the resource plugins at the versions package-lock.json
# pins, and a Kubernetes control plane with KWOK and the exporters the monitoring tests run at the versions
# of scripts/toolchain/versions.sh.
# One folder per tool and version; what is already built is skipped, so a second run takes seconds.
# Go's module and build caches live in .toolchain/go. Prints the bin folder to put first on PATH.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TC=${ASKY_TOOLCHAIN_DIR:-$ROOT/.toolchain}
# shellcheck source=toolchain/versions.sh
. "$ROOT/scripts/toolchain/versions.sh"

command -v go >/dev/null || { echo "toolchain: Go is not installed (needs Go >= 1.26 and the Go module proxy)" >&2; exit 1; }
export GOMODCACHE=$TC/go/mod GOCACHE=$TC/go/cache GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$TC/bin" "$TC/src" "$TC/tools"
log() { echo "toolchain: $*" >&2; }

npm_version() {
    node -e 'const v = require(process.argv[1]).packages["node_modules/" + process.argv[2]]; if (!v) process.exit(1); console.log(v.version)' \
        "$ROOT/package-lock.json" "$1" || { log "$1 is not in package-lock.json"; exit 1; }
}

# go mod download -json MODULE@VERSION, field FIELD (GoMod, Dir); fails with the proxy's error.
module_field() {
    go mod download -json "$1" | node -e '
        let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
            const j = JSON.parse(s);
            if (j.Error) { console.error("toolchain: " + j.Error); process.exit(1); }
            console.log(j[process.argv[1]]);
        });' "$2"
}

# A fresh wrapper module of ours in .toolchain/src/NAME; prints its folder.
wrapper() {
    local dir=$TC/src/$1
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && go mod init "asky.local/toolchain/$1" >/dev/null 2>&1)
    echo "$dir"
}

# Only the main module's replace directives apply: repeat MODULE@VERSION's non-local ones in the wrapper.
copy_replaces() {
    local gomod
    gomod=$(module_field "$1" GoMod)
    go mod edit -json "$gomod" | node -e '
        let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
            for (const r of JSON.parse(s).Replace || []) {
                if (!r.New.Version) continue; // a local path inside the upstream repository
                const old = r.Old.Version ? `${r.Old.Path}@${r.Old.Version}` : r.Old.Path;
                console.log(`-replace=${old}=${r.New.Path}@${r.New.Version}`);
            }
        });' | xargs -r go mod edit
}

# build NAME VERSION FUNCTION ARGS...: FUNCTION writes its binaries into $out unless already built;
# they are linked into $TC/bin.
build() {
    local name=$1 version=$2 fn=$3 link=$TC/bin
    shift 3
    out=$TC/tools/$name-$version
    if [ -f "$out/.built" ]; then
        log "$name $version: already built"
    else
        local start=$SECONDS
        rm -rf "$out" && mkdir -p "$out"
        log "building $name $version"
        # Not in a condition: there errexit would be off inside the function too.
        set +e
        (set -e; "$fn" "$@")
        local status=$?
        set -e
        [ "$status" = 0 ] || { log "FAILED to build $name $version (log above)"; exit 1; }
        touch "$out/.built"
        log "$name $version built in $((SECONDS - start)) s"
        echo "$(date -u +%FT%TZ) $name $version $((SECONDS - start))s" >>"$TC/build-times.log"
    fi
    mkdir -p "$link"
    for f in "$out"/*; do ln -sfn "$f" "$link/$(basename "$f")"; done
}

build_pulumi() { # VERSION (the @pulumi/pulumi version)
    local v=v$1 dir
    dir=$(wrapper "pulumi-$1") && cd "$dir"
    go mod edit -require="github.com/pulumi/pulumi/pkg/v3@$v" -require="github.com/pulumi/pulumi/sdk/v3@$v" \
        -tool=github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    copy_replaces "github.com/pulumi/pulumi/pkg/v3@$v"
    copy_replaces "github.com/pulumi/pulumi/sdk/v3@$v"
    go mod tidy
    go build -trimpath -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$v" \
        -o "$out/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    [ "$("$out/pulumi" version)" = "$v" ] || { log "pulumi version is $("$out/pulumi" version), not $v"; return 1; }
}

build_kubernetes_provider() { # MODULE_VERSION
    local mod=$1 dir src
    dir=$(wrapper "kubernetes-provider-$mod") && cd "$dir"
    cp "$ROOT/scripts/toolchain/kubernetes-provider/main.go" .
    go mod edit -require="github.com/pulumi/pulumi-kubernetes/provider/v4@$mod"
    copy_replaces "github.com/pulumi/pulumi-kubernetes/provider/v4@$mod"
    # The committed schema and mappings, copied at build time (the upstream main embeds generated copies).
    src=$(module_field "github.com/pulumi/pulumi-kubernetes/provider/v4@$mod" Dir)/cmd/pulumi-resource-kubernetes
    cp "$src/schema.json" "$src/terraform-mapping.json" . && chmod u+w ./*.json
    go mod tidy
    go build -trimpath -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${mod#v}" \
        -o "$out/pulumi-resource-kubernetes" .
}

build_standin() { # NAME NPM_VERSION BINARY
    cd "$ROOT/scripts/toolchain/standins"
    go build -trimpath -ldflags "-X main.version=$2+standin" -o "$out/$3" "./$1"
}

# The wrapper module of k8s.io/kubernetes VERSION in .toolchain/src/NAME, with the commands CMDS as
# tools. k8s.io/kubernetes requires its staging modules at v0.0.0 from ./staging: the wrapper uses
# their published v0.MINOR.PATCH of the same release instead.
kubernetes_wrapper() { # NAME VERSION CMDS...
    local name=$1 v=$2 dir gomod minor patch t
    shift 2
    dir=$(wrapper "$name") && cd "$dir"
    go mod edit -require="k8s.io/kubernetes@$v" -godebug=default=go1.26
    gomod=$(module_field "k8s.io/kubernetes@$v" GoMod)
    IFS=. read -r _ minor patch <<<"${v#v}"
    go mod edit -json "$gomod" | node -e '
        let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
            for (const r of JSON.parse(s).Replace || [])
                if (r.New.Path.startsWith("./staging/")) console.log(`-replace=${r.Old.Path}=${r.Old.Path}@${process.argv[1]}`);
        });' "v0.$minor.$patch" | xargs -r go mod edit
    for t in "$@"; do go mod edit -tool="k8s.io/kubernetes/cmd/$t"; done
    go mod tidy
}

# kwokctl, the kubernetes provider and the kubelet's node registration read the version: stamp it
# as a release build does.
kubernetes_ldflags() { # VERSION
    local v=$1 minor p flags=""
    IFS=. read -r _ minor _ <<<"${v#v}"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
    done
    echo "$flags"
}

build_kubernetes() { # VERSION
    local v=$1 t cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
    kubernetes_wrapper "kubernetes-$v" "$v" "${cmds[@]}"
    go build -trimpath -ldflags "$(kubernetes_ldflags "$v")" -o "$out/" "${cmds[@]/#/k8s.io/kubernetes/cmd/}"
    "$out/kube-apiserver" --version | grep -qx "Kubernetes $v" || { log "kube-apiserver reports $("$out/kube-apiserver" --version)"; return 1; }
}

# The e2e's real node (test/e2e/support/node.ts): kubelet and kube-proxy of the control plane's release,
# and the pod sandbox's pause program from the same source (build/pause/linux/pause.c), linked statically.
build_kubernetes_node() { # VERSION
    local v=$1 cmds=(kubelet kube-proxy) src
    kubernetes_wrapper "kubernetes-node-$v" "$v" "${cmds[@]}"
    go build -trimpath -ldflags "$(kubernetes_ldflags "$v")" -o "$out/" "${cmds[@]/#/k8s.io/kubernetes/cmd/}"
    "$out/kubelet" --version | grep -qx "Kubernetes $v" || { log "kubelet reports $("$out/kubelet" --version)"; return 1; }
    src=$(module_field "k8s.io/kubernetes@$v" Dir)/build/pause/linux/pause.c
    command -v gcc >/dev/null || { log "gcc is needed for the pause program (apt-get install gcc libc6-dev)"; return 1; }
    gcc -Os -Wall -Werror -static -DVERSION="$v-asky" -o "$out/pause" "$src"
}

# CoreDNS with the plugins of a kubeadm Corefile (scripts/toolchain/coredns/main.go).
build_coredns() { # VERSION
    local dir
    dir=$(wrapper "coredns-$1") && cd "$dir"
    cp "$ROOT/scripts/toolchain/coredns/main.go" .
    go mod edit -require="github.com/coredns/coredns@$1"
    copy_replaces "github.com/coredns/coredns@$1"
    go mod tidy
    go build -trimpath -ldflags "-X github.com/coredns/coredns/coremain.GitCommit=$1" -o "$out/coredns" .
    "$out/coredns" -plugins | grep -qx "kubernetes" || { log "coredns lacks the kubernetes plugin"; return 1; }
}

# kube-router's NetworkPolicy controller (the e2e's enforcer), with the dependencies its release pins
# raised to the versions of KUBE_ROUTER_DEPENDENCIES (their advisories: golang.org/x/net, x/crypto, grpc).
build_kube_router() { # VERSION
    local v=$1 dir dep
    dir=$(wrapper "kube-router-$v") && cd "$dir"
    go mod edit -require="github.com/cloudnativelabs/kube-router/v2@$v" -tool=github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
    copy_replaces "github.com/cloudnativelabs/kube-router/v2@$v"
    for dep in $KUBE_ROUTER_DEPENDENCIES; do go mod edit -require="$dep"; done
    go mod tidy
    go build -trimpath -ldflags "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$v" \
        -o "$out/kube-router" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
}

# go install of a module's commands at VERSION, through a wrapper (one go.sum per tool and version).
build_commands() { # MODULE VERSION BINARY=PACKAGE...
    local mod=$1 v=$2 dir pair
    shift 2
    dir=$(wrapper "$(basename "$mod")-$v") && cd "$dir"
    go mod edit -require="$mod@$v"
    copy_replaces "$mod@$v"
    for pair in "$@"; do go mod edit -tool="${pair#*=}"; done
    go mod tidy
    for pair in "$@"; do go build -trimpath -o "$out/${pair%%=*}" "${pair#*=}"; done
}

build_etcd() { # VERSION
    local v=$1 dir m
    dir=$(wrapper "etcd-$v") && cd "$dir"
    # The server module replaces its siblings with local paths: require them all at one version.
    for m in api/v3 client/pkg/v3 client/v3 pkg/v3 server/v3; do go mod edit -require="go.etcd.io/etcd/$m@$v"; done
    copy_replaces "go.etcd.io/etcd/server/v3@$v"
    go mod edit -tool=go.etcd.io/etcd/server/v3
    go mod tidy
    go build -trimpath -o "$out/etcd" go.etcd.io/etcd/server/v3
}

build_kwok() { # VERSION
    local v=$1 dir
    dir=$(wrapper "kwok-$v") && cd "$dir"
    go mod edit -require="sigs.k8s.io/kwok@$v" -tool=sigs.k8s.io/kwok/cmd/kwok -tool=sigs.k8s.io/kwok/cmd/kwokctl
    go mod tidy
    go build -trimpath -ldflags "-X sigs.k8s.io/kwok/pkg/consts.Version=${v#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBERNETES_VERSION#v}" \
        -o "$out/" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
}

# An exporter from its Go module: a wrapper requiring MODULE@VERSION builds PACKAGE as BINARY, with the version
# stamped as upstream's release builds do (LDFLAGS), and checked with `BINARY --version`.
build_exporter() { # NAME MODULE VERSION PACKAGE BINARY LDFLAGS
    local name=$1 module=$2 v=$3 pkg=$4 binary=$5 ldflags=$6 dir
    dir=$(wrapper "$name-$v") && cd "$dir"
    go mod edit -require="$module@$v" -tool="$pkg"
    copy_replaces "$module@$v"
    go mod tidy
    go build -trimpath -ldflags "$ldflags" -o "$out/$binary" "$pkg"
    "$out/$binary" --version 2>&1 | grep -q "${v#v}" || { log "$binary reports $("$out/$binary" --version 2>&1 | head -n 1), not ${v#v}"; return 1; }
}

# The Prometheus exporters' release builds stamp github.com/prometheus/common/version (promu).
promu_ldflags() { # VERSION
    local p=github.com/prometheus/common/version
    echo "-X $p.Version=${1#v} -X $p.Revision=release-$1 -X $p.Branch=HEAD -X $p.BuildUser=asky-toolchain -X $p.BuildDate=19700101-00:00:00"
}

build_postgres_exporter() { # VERSION
    build_exporter postgres_exporter github.com/prometheus-community/postgres_exporter "$1" \
        github.com/prometheus-community/postgres_exporter/cmd/postgres_exporter postgres_exporter "$(promu_ldflags "$1")"
}

build_redis_exporter() { # VERSION
    # The checksum database refuses this module's lookups; the wrapper's go.sum pins what the proxy served.
    export GONOSUMDB=github.com/oliver006
    build_exporter redis_exporter github.com/oliver006/redis_exporter "$1" \
        github.com/oliver006/redis_exporter redis_exporter "-X main.BuildVersion=$1 -X main.BuildCommitSha=release-$1 -X main.BuildDate=1970-01-01"
}

build_nginx_exporter() { # VERSION
    # Served only under the module's new path (github.com/nginx, since 1.4.1).
    build_exporter nginx-prometheus-exporter github.com/nginx/nginx-prometheus-exporter "$1" \
        github.com/nginx/nginx-prometheus-exporter nginx-prometheus-exporter "$(promu_ldflags "$1")"
}

# The whole run is one function, called on the last line: bash has read all of it before it starts,
# so editing this file while a build runs cannot change what the running build does.
main() {
    pulumi_version=$(npm_version @pulumi/pulumi)
    kubernetes_npm=$(npm_version @pulumi/kubernetes)
    kubernetes_module=$(kubernetes_provider_module "$kubernetes_npm") || {
        log "no provider module recorded for @pulumi/kubernetes $kubernetes_npm: add its release commit's pseudo-version to scripts/toolchain/versions.sh"
        exit 1
    }

    build pulumi "$pulumi_version" build_pulumi "$pulumi_version"
    build pulumi-resource-kubernetes "$kubernetes_module" build_kubernetes_provider "$kubernetes_module"
    # Keyed by their source too: a change of the stand-ins rebuilds them.
    standin_hash=$(cd "$ROOT/scripts/toolchain/standins" && cat go.mod go.sum $(find . -name '*.go' | sort) | sha256sum | cut -c1-10)
    for p in $STANDIN_PROVIDERS; do
        v=$(npm_version "@pulumi/$p")
        build "pulumi-resource-$p" "$v+standin-$standin_hash" build_standin "$p" "$v" "pulumi-resource-$p"
    done
    build etcd "$ETCD_VERSION" build_etcd "$ETCD_VERSION"
    build kubernetes "$KUBERNETES_VERSION" build_kubernetes "$KUBERNETES_VERSION"
    build kwok "$KWOK_VERSION" build_kwok "$KWOK_VERSION"
    # The real node: kubelet, kube-proxy and pause; cluster DNS; NetworkPolicy enforcement; the image
    # registry containerd pulls from, crane to push the images built here into it, and crictl, which
    # removes the node's pods through the CRI at teardown (and lets a person look at them).
    build kubernetes-node "$KUBERNETES_VERSION" build_kubernetes_node "$KUBERNETES_VERSION"
    build coredns "$COREDNS_VERSION" build_coredns "$COREDNS_VERSION"
    build kube-router "$KUBE_ROUTER_VERSION-$(echo "$KUBE_ROUTER_DEPENDENCIES" | sha256sum | cut -c1-8)" build_kube_router "$KUBE_ROUTER_VERSION"
    build registry "$DISTRIBUTION_VERSION" build_commands github.com/distribution/distribution/v3 \
        "$DISTRIBUTION_VERSION" registry=github.com/distribution/distribution/v3/cmd/registry
    build crane "$GO_CONTAINERREGISTRY_VERSION" build_commands github.com/google/go-containerregistry \
        "$GO_CONTAINERREGISTRY_VERSION" crane=github.com/google/go-containerregistry/cmd/crane
    build crictl "$CRI_TOOLS_VERSION" build_commands sigs.k8s.io/cri-tools "$CRI_TOOLS_VERSION" crictl=sigs.k8s.io/cri-tools/cmd/crictl
    # Policy packs (pulumi preview --policy-pack ./policy): the engine runs a pack folder through its runtime's
    # language host, and the official Node.js one is not served either; a stand-in that runs policy packs only.
    build pulumi-language-nodejs "$pulumi_version+standin-$standin_hash" build_standin language-nodejs "$pulumi_version" pulumi-language-nodejs
    # The exporters the real-server tests run (test/monitoring*.spec.ts) and the real node's exporter
    # images hold, at the versions the stacks' images pin.
    build postgres_exporter "$POSTGRES_EXPORTER_VERSION" build_postgres_exporter "$POSTGRES_EXPORTER_VERSION"
    build redis_exporter "$REDIS_EXPORTER_VERSION" build_redis_exporter "$REDIS_EXPORTER_VERSION"
    build nginx-prometheus-exporter "$NGINX_EXPORTER_VERSION" build_nginx_exporter "$NGINX_EXPORTER_VERSION"
    log "disk: $(du -sh "$TC" | cut -f1) in $TC"
    echo "$TC/bin"
}

main "$@"
