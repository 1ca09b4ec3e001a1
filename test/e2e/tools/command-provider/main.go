// A stand-in for the Pulumi `command` provider (pulumi-resource-command), for this project's end-to-end tests
// only. The Go module proxy these machines use does not serve the real provider's module
// (github.com/pulumi/pulumi-command/provider: 403 at every version), so this program implements the part of
// its protocol the project uses, after the provider's documented behaviour:
//
//   - command:local:Command — create / update / delete run `interpreter + [command]` with the inherited
//     environment plus `environment`, optional `stdin` and `dir`; a non-zero exit fails the step with the
//     command's stdout and stderr; outputs are the inputs plus `stdout` and `stderr` (trailing newline
//     trimmed), secret when any input is; `update` falls back to `create`; a change of `triggers` is a
//     replacement; delete runs with the stored inputs; previous stdout/stderr are passed as
//     PULUMI_COMMAND_STDOUT/STDERR unless `addPreviousOutputInEnv` is false; `logging` selects which streams
//     are logged, line by line as they arrive.
//   - command:local:run — the same, as an invoke, on every preview and update.
//
// Nothing here is needed by users: `pulumi up` installs the real provider.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/pkg/v3/resource/provider"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is set at build time to the @pulumi/command SDK version it stands in for.
var version = "0.0.0"

var marshal = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true, KeepOutputValues: true}

// inputKeys are the Command inputs whose change is a diff.
var inputKeys = []string{
	"create", "update", "delete", "environment", "interpreter", "dir", "stdin", "triggers", "logging",
	"addPreviousOutputInEnv", "assetPaths", "archivePaths",
}

type server struct {
	pulumirpc.UnimplementedResourceProviderServer
	host *provider.HostClient
}

func main() {
	err := provider.Main("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &server{host: host}, nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func (s *server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (s *server) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (s *server) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (s *server) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (s *server) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (s *server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := plugin.UnmarshalProperties(req.GetOldInputs(), marshal)
	if err != nil {
		return nil, err
	}
	if req.GetOldInputs() == nil {
		if olds, err = plugin.UnmarshalProperties(req.GetOlds(), marshal); err != nil {
			return nil, err
		}
	}
	news, err := plugin.UnmarshalProperties(req.GetNews(), marshal)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, DetailedDiff: map[string]*pulumirpc.PropertyDiff{}, HasDetailedDiff: true}
	for _, key := range inputKeys {
		o, n := olds[resource.PropertyKey(key)], news[resource.PropertyKey(key)]
		if n.ContainsUnknowns() || !o.DeepEquals(n) {
			kind := pulumirpc.PropertyDiff_UPDATE
			if key == "triggers" {
				kind = pulumirpc.PropertyDiff_UPDATE_REPLACE
				resp.Replaces = append(resp.Replaces, key)
			}
			resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
			resp.Diffs = append(resp.Diffs, key)
			resp.DetailedDiff[key] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
		}
	}
	return resp, nil
}

func (s *server) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	inputs, err := plugin.UnmarshalProperties(req.GetProperties(), marshal)
	if err != nil {
		return nil, err
	}
	state, err := s.run(ctx, resource.URN(req.GetUrn()), "create", inputs, nil, req.GetPreview())
	if err != nil {
		return nil, err
	}
	props, err := plugin.MarshalProperties(state, marshal)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: newID(), Properties: props}, nil
}

func (s *server) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	olds, err := plugin.UnmarshalProperties(req.GetOlds(), marshal)
	if err != nil {
		return nil, err
	}
	news, err := plugin.UnmarshalProperties(req.GetNews(), marshal)
	if err != nil {
		return nil, err
	}
	step := "update"
	if str(news["update"]) == "" {
		step = "create"
	}
	state, err := s.run(ctx, resource.URN(req.GetUrn()), step, news, olds, req.GetPreview())
	if err != nil {
		return nil, err
	}
	props, err := plugin.MarshalProperties(state, marshal)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (s *server) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	state, err := plugin.UnmarshalProperties(req.GetProperties(), marshal)
	if err != nil {
		return nil, err
	}
	if str(state["delete"]) != "" {
		if _, err := s.run(ctx, resource.URN(req.GetUrn()), "delete", state, state, false); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

func (s *server) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (s *server) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != "command:local:run" {
		return nil, fmt.Errorf("unknown function %q", req.GetTok())
	}
	args, err := plugin.UnmarshalProperties(req.GetArgs(), marshal)
	if err != nil {
		return nil, err
	}
	result, err := s.run(ctx, "", "command", args, nil, false)
	if err != nil {
		return nil, err
	}
	ret, err := plugin.MarshalProperties(result, marshal)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: ret}, nil
}

// run executes the command named by `step` in `inputs` and returns the inputs plus stdout and stderr.
func (s *server) run(ctx context.Context, urn resource.URN, step string, inputs, previous resource.PropertyMap, preview bool) (resource.PropertyMap, error) {
	state := inputs.Copy()
	secret := inputs.ContainsSecrets()
	if preview || inputs.ContainsUnknowns() {
		state["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
		state["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
		return state, nil
	}
	command := str(inputs[resource.PropertyKey(step)])
	interpreter := []string{"/bin/sh", "-c"}
	if v := plain(inputs["interpreter"]); v.IsArray() && len(v.ArrayValue()) > 0 {
		interpreter = nil
		for _, e := range v.ArrayValue() {
			interpreter = append(interpreter, str(e))
		}
	}
	args := append(append([]string{}, interpreter[1:]...), command)
	cmd := exec.CommandContext(ctx, interpreter[0], args...)
	cmd.Dir = str(inputs["dir"])
	cmd.Env = os.Environ()
	if env := plain(inputs["environment"]); env.IsObject() {
		keys := env.ObjectValue().StableKeys()
		for _, k := range keys {
			cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%s", k, str(env.ObjectValue()[k])))
		}
	}
	addPrevious := inputs["addPreviousOutputInEnv"]
	if previous != nil && (!plain(addPrevious).IsBool() || plain(addPrevious).BoolValue()) {
		cmd.Env = append(cmd.Env, "PULUMI_COMMAND_STDOUT="+str(previous["stdout"]), "PULUMI_COMMAND_STDERR="+str(previous["stderr"]))
	}
	if stdin := str(inputs["stdin"]); stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	logging := str(inputs["logging"])
	if logging == "" {
		logging = "stdoutAndStderr"
	}
	var stdout, stderr bytes.Buffer
	var wg sync.WaitGroup
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %q: %w", interpreter[0], err)
	}
	wg.Add(2)
	go s.copyLines(ctx, &wg, urn, outPipe, &stdout, logging == "stdout" || logging == "stdoutAndStderr")
	go s.copyLines(ctx, &wg, urn, errPipe, &stderr, logging == "stderr" || logging == "stdoutAndStderr")
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("%w: running %q:\nStdout:\n%s\nStderr:\n%s", err, command, stdout.String(), stderr.String())
	}
	out := resource.NewStringProperty(strings.TrimSuffix(stdout.String(), "\n"))
	errOut := resource.NewStringProperty(strings.TrimSuffix(stderr.String(), "\n"))
	if secret {
		out, errOut = resource.MakeSecret(out), resource.MakeSecret(errOut)
	}
	state["stdout"], state["stderr"] = out, errOut
	return state, nil
}

// copyLines copies a stream into a buffer, logging each line to the engine as it arrives when `log` is set.
func (s *server) copyLines(ctx context.Context, wg *sync.WaitGroup, urn resource.URN, from io.Reader, into *bytes.Buffer, log bool) {
	defer wg.Done()
	reader := bufio.NewReader(from)
	for {
		line, err := reader.ReadString('\n')
		into.WriteString(line)
		if log && strings.TrimSpace(line) != "" && urn != "" {
			_ = s.host.Log(ctx, diag.Info, urn, strings.TrimSuffix(line, "\n"))
		}
		if err != nil {
			return
		}
	}
}

// plain unwraps secrets (at any depth) so values can be used.
func plain(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		return plain(v.OutputValue().Element)
	case v.IsArray():
		out := make([]resource.PropertyValue, 0, len(v.ArrayValue()))
		for _, e := range v.ArrayValue() {
			out = append(out, plain(e))
		}
		return resource.NewArrayProperty(out)
	case v.IsObject():
		out := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			out[k] = plain(e)
		}
		return resource.NewObjectProperty(out)
	}
	return v
}

func str(v resource.PropertyValue) string {
	if p := plain(v); p.IsString() {
		return p.StringValue()
	}
	return ""
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
