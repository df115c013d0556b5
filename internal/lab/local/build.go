package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
)

// validFunctionName matches the directory names BuildBootstrap accepts.
var validFunctionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// BuildBootstrap builds the Lambda function ./functions/<pkg> of the
// repository at repoRoot for the host, as a bootstrap executable with the
// tag lambda.norpc and cgo off, as make build does, and returns its path:
// <outDir>/<pkg>/bootstrap. pkg is a directory name such as "watch" or
// "tune". The error carries the compiler's output.
func BuildBootstrap(ctx context.Context, repoRoot, pkg, outDir string) (string, error) {
	if !validFunctionName.MatchString(pkg) {
		return "", fmt.Errorf("local: build: function package %q is not a directory name under functions/", pkg)
	}
	out := filepath.Join(outDir, pkg, "bootstrap")
	if err := goBuild(ctx, repoRoot, "./functions/"+pkg, out); err != nil {
		return "", err
	}
	return out, nil
}

// goBuild runs go build for the host in dir, writing the main package
// pkgPath (relative to dir) to the executable out.
func goBuild(ctx context.Context, dir, pkgPath, out string) error {
	goBin, err := findExecutable("go", "install Go")
	if err != nil {
		return fmt.Errorf("local: build %s: %w", pkgPath, err)
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-tags", "lambda.norpc", "-o", out, pkgPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("local: build %s: %w\n%s", pkgPath, err, output)
	}
	return nil
}
