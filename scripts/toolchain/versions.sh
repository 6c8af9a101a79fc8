# The one place that decides what scripts/toolchain.sh builds. The Pulumi CLI and the plugins follow
# package-lock.json (npm_version); the control plane's versions are set here.

# Kubernetes control plane (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl), the
# etcd it stores in, and KWOK (simulated nodes). kwok v0.8.0 is built against k8s.io v0.36.
KUBERNETES_VERSION=v1.36.3
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0

# The kubernetes provider module (github.com/pulumi/pulumi-kubernetes/provider/v4) has no tags of its
# own: each @pulumi/kubernetes release needs the pseudo-version of its release commit. The module
# proxy here serves exactly one pseudo-version, a development commit of the 4.24/4.25 line (its
# schema has the types of @pulumi/kubernetes 4.23.0-4.25.0; it lacks alwaysRender and
# upsertExistingObjects), so every release maps to it until the proxy serves the release commit.
# Add a line per release: kubernetes_provider_module <npm version> -> <module version>.
kubernetes_provider_module() {
    case "$1" in
        4.34.2) echo v4.0.0-20260115033456-f47bc2d6f199 ;;
        *) return 1 ;;
    esac
}

# Bridged providers: the proxy serves no version of github.com/pulumi/pulumi-random/provider/v4 or
# github.com/pulumi/pulumi-tls/provider/v5 (403 on every version and on the version list), nor the
# Terraform providers they wrap; scripts/toolchain/standins builds stand-ins for the resource
# types this program uses, reported as <npm version>+standin.
STANDIN_PROVIDERS="random tls"

# Exporters: one version each for the image the stacks pin (Pulumi.<stack>.yaml asky:monitoring.images) and the
# binary the tests run, which scripts/toolchain.sh builds from the exporter's Go module at this version (named as
# upstream names it). test/monitoringManifests.spec.ts fails when a stack's image tag differs from these, and the
# tests refuse a binary that reports another version. Each is the newest release the module proxy serves here.
POSTGRES_EXPORTER_VERSION=v0.19.1 # 2026-02-25; 0.20.0/0.20.1 (June/July 2026) are not served
REDIS_EXPORTER_VERSION=v1.88.0    # 2026-07-23; 1.89.0 to 1.91.1 (to August 2026) are not served
NGINX_EXPORTER_VERSION=v1.5.1     # 2025-10-14; 1.5.2 is retracted, 1.5.3 (2026-08-14: release signing only) is not served
# The access-log exporter is mtail, maintained by its author at github.com/jaqx0r/mtail (images ghcr.io/jaqx0r/mtail)
# since google/mtail stopped. No version of either module is served here, so it is not built: the tests run
# Debian's mtail (3.0.0~rc50), the closest real program, and say so.
MTAIL_VERSION=3.4.9               # August 2026

# The e2e's real node (test/e2e/support/): kubelet, kube-proxy and pause come from KUBERNETES_VERSION;
# cluster DNS, NetworkPolicy enforcement (kube-router's firewall controller, as k3s runs it), the registry containerd
# pulls from, crane, which pushes the images the e2e builds into it, and crictl (the node's pods at
# teardown, and for a person looking around). containerd, runc and the CNI plugins are Debian
# packages (scripts/test.sh).
COREDNS_VERSION=v1.15.0
# kube-network-policies (what kind ships) needs the kernel's nftables queue expression, which this
# machine kind's kernel lacks (CONFIG_NFT_QUEUE is not set): README "The real node". kube-router v2.1.0
# is the only release the proxy serves; its advisories concern the BGP router (not run here) and its
# dependencies, raised here to current releases.
KUBE_ROUTER_VERSION=v2.1.0
KUBE_ROUTER_DEPENDENCIES="golang.org/x/net@v0.63.0 golang.org/x/crypto@v0.59.0 golang.org/x/sys@v0.50.0 golang.org/x/text@v0.44.0 google.golang.org/grpc@v1.84.0"
DISTRIBUTION_VERSION=v3.1.2
GO_CONTAINERREGISTRY_VERSION=v0.22.1
CRI_TOOLS_VERSION=v1.37.0
