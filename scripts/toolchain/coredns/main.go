// CoreDNS for the e2e's real node, built from github.com/coredns/coredns with only the plugins a
// kubeadm cluster's Corefile uses (the upstream main links all ~60, with every cloud SDK). This is
// CoreDNS's documented way to choose plugins at compile time: the upstream directive order, kept
// for the plugins linked here, and one blank import per plugin (core/plugin/zplugin.go's form).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// linked are the directives of the plugins imported above; the order is upstream's.
var linked = map[string]bool{
	"reload": true, "ready": true, "health": true, "prometheus": true, "errors": true, "log": true,
	"loadbalance": true, "cache": true, "kubernetes": true, "loop": true,
}

func main() {
	kept := dnsserver.Directives[:0]
	for _, d := range dnsserver.Directives {
		if linked[d] {
			kept = append(kept, d)
		}
	}
	dnsserver.Directives = kept
	coremain.Run()
}
