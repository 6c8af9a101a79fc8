// Package standin serves resource providers whose resources take every input as "force new": any
// change of an input replaces the resource, the way the bridged random and tls providers behave.
// It exists because the Go module proxy this repository builds from serves no version of
// github.com/pulumi/pulumi-random/provider or github.com/pulumi/pulumi-tls/provider (see
// scripts/toolchain.sh); the e2e runs the real CLI, engine and kubernetes provider around them.
package standin

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Resource is one resource type: defaults and validation of its inputs, and how to create it.
type Resource struct {
	// Defaults returns the inputs with every default filled in, or the failures of invalid inputs.
	Defaults func(inputs resource.PropertyMap) (resource.PropertyMap, []plugin.CheckFailure)
	// Create returns the ID and the outputs (inputs included) of a new resource.
	Create func(inputs resource.PropertyMap) (resource.ID, resource.PropertyMap, error)
	// Outputs names the output-only properties, unknown during a preview.
	Outputs []string
}

type standinProvider struct {
	plugin.UnimplementedProvider
	name      string
	version   semver.Version
	resources map[tokens.Type]Resource
}

// Main serves the provider `name` at `version` with the given resource types.
func Main(name, version string, resources map[tokens.Type]Resource) {
	v := semver.MustParse(version)
	p := &standinProvider{name: name, version: v, resources: resources}
	err := provider.Main(name, func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return plugin.NewProviderServer(p), nil
	})
	if err != nil {
		panic(err)
	}
}

func (p *standinProvider) resource(t tokens.Type) (Resource, error) {
	r, ok := p.resources[t]
	if !ok {
		return Resource{}, fmt.Errorf("%s: resource type %q is not provided by this build", p.name, t)
	}
	return r, nil
}

func (p *standinProvider) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	return plugin.PluginInfo{Version: &p.version}, nil
}

func (p *standinProvider) GetSchema(context.Context, plugin.GetSchemaRequest) (plugin.GetSchemaResponse, error) {
	schema, err := json.Marshal(map[string]any{"name": p.name, "version": p.version.String()})
	return plugin.GetSchemaResponse{Schema: schema}, err
}

func (p *standinProvider) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

func (p *standinProvider) DiffConfig(context.Context, plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	return plugin.DiffResult{Changes: plugin.DiffNone}, nil
}

func (p *standinProvider) Configure(context.Context, plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	return plugin.ConfigureResponse{}, nil
}

func (p *standinProvider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	r, err := p.resource(req.Type)
	if err != nil {
		return plugin.CheckResponse{}, err
	}
	if req.News.ContainsUnknowns() {
		return plugin.CheckResponse{Properties: req.News}, nil
	}
	props, failures := r.Defaults(req.News.Copy())
	return plugin.CheckResponse{Properties: props, Failures: failures}, nil
}

// Diff replaces the resource when any input changed: every input is "force new".
func (p *standinProvider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	diff := req.OldInputs.Diff(req.NewInputs)
	if diff == nil || !diff.AnyChanges() {
		return plugin.DiffResult{Changes: plugin.DiffNone}, nil
	}
	var keys []resource.PropertyKey
	for _, k := range diff.ChangedKeys() {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	detailed := map[string]plugin.PropertyDiff{}
	for k, d := range plugin.NewDetailedDiffFromObjectDiff(diff, true) {
		detailed[k] = d.ToReplace()
	}
	return plugin.DiffResult{Changes: plugin.DiffSome, ReplaceKeys: keys, ChangedKeys: keys, DetailedDiff: detailed}, nil
}

func (p *standinProvider) Create(_ context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	r, err := p.resource(req.Type)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	if req.Preview {
		props := req.Properties.Copy()
		for _, k := range r.Outputs {
			props[resource.PropertyKey(k)] = resource.MakeComputed(resource.NewProperty(""))
		}
		return plugin.CreateResponse{Properties: props, Status: resource.StatusOK}, nil
	}
	id, props, err := r.Create(req.Properties)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	return plugin.CreateResponse{ID: id, Properties: props, Status: resource.StatusOK}, nil
}

// Read returns the recorded state: these resources exist only in the stack's state.
func (p *standinProvider) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	return plugin.ReadResponse{
		ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: req.State},
		Status:     resource.StatusOK,
	}, nil
}

func (p *standinProvider) Update(_ context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	return plugin.UpdateResponse{}, fmt.Errorf("%s: %s is replaced on every input change, never updated", p.name, req.Type)
}

func (p *standinProvider) Delete(context.Context, plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	return plugin.DeleteResponse{}, nil
}

// Bool reads a boolean input, or def when it is absent.
func Bool(m resource.PropertyMap, key string, def bool) bool {
	if v, ok := m[resource.PropertyKey(key)]; ok && v.IsBool() {
		return v.BoolValue()
	}
	return def
}

// Number reads a numeric input, or def when it is absent.
func Number(m resource.PropertyMap, key string, def float64) float64 {
	if v, ok := m[resource.PropertyKey(key)]; ok && v.IsNumber() {
		return v.NumberValue()
	}
	return def
}

// String reads a string input, or def when it is absent.
func String(m resource.PropertyMap, key string, def string) string {
	if v, ok := m[resource.PropertyKey(key)]; ok && v.IsString() {
		return v.StringValue()
	}
	return def
}
