// Command policycheck validates maptuner policies files:
//
//	policycheck FILE...
//
// It prints every problem of every file to standard error and exits 1 when
// any file is invalid, 2 on a usage error, and 0, after a one-line summary
// per file on standard output, when all are valid. The build runs it on the
// deployed policies file so that an invalid one is never packaged.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/maptuner/maptuner/internal/policy"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run checks the files named by args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: policycheck FILE...")
		return 2
	}
	code := 0
	for _, path := range args {
		set, err := policy.Load(path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			code = 1
			continue
		}
		names := set.Names()
		fmt.Fprintf(stdout, "%s: ok, %d policies: %s\n", path, len(names), strings.Join(names, ", "))
	}
	return code
}
