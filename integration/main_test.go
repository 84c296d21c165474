package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// bins holds the paths of the binaries TestMain built.
var bins struct {
	engine, proxy string
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "rpcproxy-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	bins.engine = filepath.Join(dir, "engine")
	bins.proxy = filepath.Join(dir, "rpcproxy")
	return m.Run()
}

// build compiles the engine and the proxy into dir, without -race: the
// processes under test are the shipped binaries.
func build(dir string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command is not in PATH: %w", err)
	}
	cmd := exec.Command(gobin, "build", "-o", dir+string(filepath.Separator),
		"github.com/rpcproxy/rpcproxy/cmd/engine", "github.com/rpcproxy/rpcproxy/cmd/rpcproxy")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build of cmd/engine and cmd/rpcproxy: %w", err)
	}
	return nil
}
