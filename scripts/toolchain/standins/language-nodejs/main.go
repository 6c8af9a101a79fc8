// Command pulumi-language-nodejs stands in for Pulumi's Node.js language host, which the Go module
// proxy here does not serve, for the one thing the e2e needs from it: running a Node.js policy pack.
// The engine (pulumi 3.276) starts a policy pack folder through its runtime's language host
// (LanguageRuntime.RunPlugin, kind "analyzer"); like the real host, this one runs the pack's own
// @pulumi/pulumi/cmd/run-policy-pack with node, in the pack's folder, and streams its output back.
// Programs themselves run through the Automation API's inline language server, so everything else
// answers Unimplemented.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

var version = "0.0.0-dev"

// Requires the module by name from the pack's folder, so a pack without its node_modules fails with
// node's "Cannot find module '@pulumi/pulumi/cmd/run-policy-pack'", which the engine turns into
// "try running npm install". run-policy-pack reads its arguments from argv[2:].
const runPolicyPack = `process.argv = [process.argv[0], "run-policy-pack", ...process.argv.slice(1)];
require("@pulumi/pulumi/cmd/run-policy-pack");`

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	if req.GetKind() != "analyzer" {
		return status.Errorf(codes.Unimplemented, "this stand-in runs policy packs only, not %s plugins", req.GetKind())
	}
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		return status.Error(codes.InvalidArgument, "RunPlugin: no program directory")
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	// Arguments as run-policy-pack expects them: <engine address> <program> (the pack's folder).
	args := append([]string{"-e", runPolicyPack, "--"}, req.GetArgs()...)
	args = append(args, ".")
	cmd := exec.CommandContext(server.Context(), "node", args...)
	cmd.Dir = dir
	cmd.Env = req.GetEnv()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	code := int32(0)
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return fmt.Errorf("running node in %s: %w", dir, err)
		}
		code = int32(exit.ExitCode())
	}
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

func main() {
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, &host{})
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
}
