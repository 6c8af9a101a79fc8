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
