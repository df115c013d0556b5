package iamcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// sdkService is the import path prefix of the AWS SDK service packages.
const sdkService = "github.com/aws/aws-sdk-go-v2/service/"

// waiterOperations are the operations the SDK waiters of the code poll;
// a waiter missing here fails the check.
var waiterOperations = map[string]string{
	"dynamodb.NewTableExistsWaiter":    "DescribeTable",
	"dynamodb.NewTableNotExistsWaiter": "DescribeTable",
}

// listedPackage is what go list -json says of a package.
type listedPackage struct {
	ImportPath string
	Name       string
	Dir        string
	GoFiles    []string
	Export     string
	Deps       []string
	Module     *struct{ Path string }
}

// A calls is what the code of the main packages under functions/ calls.
type calls struct {
	// Uses maps the directory name of each main package under functions/
	// to the IAM actions whose operations its code may call, each with
	// where (file:line, from the module root) it calls them.
	Uses map[string]map[string][]string
	// Problems are calls the checker cannot map to an IAM action.
	Problems []string
}

// The build tags the functions are built with (Makefile LAMBDA_TAGS).
const lambdaTags = "lambda.norpc"

// codeCalls type-checks the module's packages that the main packages
// under root/functions import, from source (everything else from its
// compiled export data), and follows the calls from each main: static
// calls, function and method values, and interface method calls to every
// method of a module type that implements the interface (class hierarchy
// analysis). Package initialisers count as called. An SDK operation is a
// call of a function or method named Op that takes a *<service>.OpInput,
// or of a New<Op>Paginator of a service package.
func codeCalls(root string) (calls, error) {
	cmd := exec.Command("go", "list", "-deps", "-export", "-tags", lambdaTags,
		"-json=ImportPath,Name,Dir,GoFiles,Export,Deps,Module", "./functions/...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return calls{}, fmt.Errorf("go list: %w: %s", err, stderr.String())
	}
	var pkgs []listedPackage
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return calls{}, fmt.Errorf("go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	a, err := analyse(root, pkgs)
	if err != nil {
		return calls{}, err
	}
	c := calls{Uses: map[string]map[string][]string{}}
	for _, p := range pkgs {
		dir, ok := strings.CutPrefix(filepath.ToSlash(p.Dir), filepath.ToSlash(root)+"/functions/")
		if p.Name != "main" || !ok || p.Module == nil {
			continue
		}
		uses, problems := a.reach(p)
		c.Uses[dir] = uses
		c.Problems = append(c.Problems, problems...)
	}
	return c, nil
}

// analysis holds the type-checked module packages.
type analysis struct {
	root   string
	module string
	fset   *token.FileSet
	// pkgs are the module packages by import path.
	pkgs map[string]*checkedPackage
	// bodies are the declared bodies of the module's functions and methods.
	bodies map[*types.Func]*checkedBody
	// types are the module's named non-interface types, for interface calls.
	types []types.Type
}

type checkedPackage struct {
	info *types.Info
	// init are the package's initialisers: package-level variable values
	// and init functions.
	init []ast.Node
	// main is the body of func main, in a main package.
	main *checkedBody
}

type checkedBody struct {
	pkg  *checkedPackage
	node ast.Node
}

// analyse type-checks the module packages of pkgs, which go list gave in
// dependency order.
func analyse(root string, pkgs []listedPackage) (*analysis, error) {
	a := &analysis{root: root, fset: token.NewFileSet(), pkgs: map[string]*checkedPackage{}, bodies: map[*types.Func]*checkedBody{}}
	exports := map[string]string{}
	for _, p := range pkgs {
		exports[p.ImportPath] = p.Export
		if p.Name == "main" && p.Module != nil {
			a.module = p.Module.Path
		}
	}
	if a.module == "" {
		return nil, errors.New("go list found no main package under functions/")
	}
	gc := importer.ForCompiler(a.fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	own := map[string]*types.Package{}
	imp := importerFunc(func(path string) (*types.Package, error) {
		if p, ok := own[path]; ok {
			return p, nil
		}
		return gc.Import(path)
	})
	for _, p := range pkgs {
		if p.Module == nil || p.Module.Path != a.module {
			continue
		}
		var files []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(a.fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
		info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{}}
		tp, err := (&types.Config{Importer: imp}).Check(p.ImportPath, a.fset, files, info)
		if err != nil {
			return nil, fmt.Errorf("type-check %s: %w", p.ImportPath, err)
		}
		own[p.ImportPath] = tp
		cp := &checkedPackage{info: info}
		a.pkgs[p.ImportPath] = cp
		for _, f := range files {
			for _, decl := range f.Decls {
				switch d := decl.(type) {
				case *ast.FuncDecl:
					fn, _ := info.Defs[d.Name].(*types.Func)
					switch {
					case d.Body == nil || fn == nil:
					case d.Recv == nil && d.Name.Name == "init":
						cp.init = append(cp.init, d.Body)
					case d.Recv == nil && d.Name.Name == "main" && p.Name == "main":
						cp.main = &checkedBody{cp, d.Body}
					default:
						a.bodies[fn] = &checkedBody{cp, d.Body}
					}
				case *ast.GenDecl:
					if d.Tok == token.VAR {
						cp.init = append(cp.init, d)
					}
				}
			}
		}
		for _, name := range tp.Scope().Names() {
			if tn, ok := tp.Scope().Lookup(name).(*types.TypeName); ok && !tn.IsAlias() && !types.IsInterface(tn.Type()) {
				a.types = append(a.types, tn.Type(), types.NewPointer(tn.Type()))
			}
		}
	}
	return a, nil
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// reach follows the calls from main package p and its dependencies'
// initialisers, and returns the IAM actions of the SDK operations met,
// with where they are called.
func (a *analysis) reach(p listedPackage) (map[string][]string, []string) {
	uses := map[string][]string{}
	var problems []string
	seen := map[ast.Node]bool{}
	var queue []*checkedBody
	push := func(b *checkedBody) {
		if b != nil && !seen[b.node] {
			seen[b.node] = true
			queue = append(queue, b)
		}
	}
	main := a.pkgs[p.ImportPath]
	push(main.main)
	for _, dep := range append(slices.Clone(p.Deps), p.ImportPath) {
		if cp, ok := a.pkgs[dep]; ok {
			for _, n := range cp.init {
				push(&checkedBody{cp, n})
			}
		}
	}
	for len(queue) > 0 {
		b := queue[0]
		queue = queue[1:]
		ast.Inspect(b.node, func(n ast.Node) bool {
			id, ok := n.(*ast.Ident)
			if !ok {
				return true
			}
			fn, ok := b.pkg.info.Uses[id].(*types.Func)
			if !ok {
				return true
			}
			fn = fn.Origin()
			if svc, op, problem := sdkOperation(fn); problem != "" {
				problems = append(problems, fmt.Sprintf("%s: %s", a.position(id), problem))
			} else if op != "" {
				act, ok := actionFor(svc, op)
				if !ok {
					problems = append(problems, fmt.Sprintf("%s: calls %s.%s, which no IAM action of the table maps", a.position(id), svc, op))
				} else if pos := a.position(id); !slices.Contains(uses[act], pos) {
					uses[act] = append(uses[act], pos)
				}
			}
			push(a.bodies[fn])
			for _, m := range a.implementations(fn) {
				push(a.bodies[m])
			}
			return true
		})
	}
	return uses, problems
}

// implementations returns the methods of module types that a call of fn
// may run, when fn is an interface method.
func (a *analysis) implementations(fn *types.Func) []*types.Func {
	recv := fn.Type().(*types.Signature).Recv()
	if recv == nil {
		return nil
	}
	iface, ok := recv.Type().Underlying().(*types.Interface)
	if !ok {
		return nil
	}
	var out []*types.Func
	for _, t := range a.types {
		if !types.Implements(t, iface) {
			continue
		}
		if sel := types.NewMethodSet(t).Lookup(fn.Pkg(), fn.Name()); sel != nil {
			if m, ok := sel.Obj().(*types.Func); ok {
				out = append(out, m.Origin())
			}
		}
	}
	return out
}

// sdkOperation returns the SDK service and operation that calling fn
// calls, if any, or a problem when fn is a waiter of unknown operations.
func sdkOperation(fn *types.Func) (svc, op, problem string) {
	sig := fn.Type().(*types.Signature)
	for v := range sig.Params().Variables() {
		ptr, ok := v.Type().(*types.Pointer)
		if !ok {
			continue
		}
		named, ok := ptr.Elem().(*types.Named)
		if !ok || named.Obj().Pkg() == nil {
			continue
		}
		s, ok := strings.CutPrefix(named.Obj().Pkg().Path(), sdkService)
		if !ok || strings.Contains(s, "/") {
			continue
		}
		o, ok := strings.CutSuffix(named.Obj().Name(), "Input")
		if ok && (fn.Name() == o || fn.Name() == "New"+o+"Paginator") {
			return s, o, ""
		}
	}
	if fn.Pkg() != nil && sig.Recv() == nil && strings.HasPrefix(fn.Name(), "New") && strings.HasSuffix(fn.Name(), "Waiter") {
		if s, ok := strings.CutPrefix(fn.Pkg().Path(), sdkService); ok {
			if o, ok := waiterOperations[s+"."+fn.Name()]; ok {
				return s, o, ""
			}
			return "", "", fmt.Sprintf("calls the waiter %s.%s, whose operations the checker does not know", s, fn.Name())
		}
	}
	return "", "", ""
}

// position is where id is, as file:line from the module root.
func (a *analysis) position(id *ast.Ident) string {
	pos := a.fset.Position(id.Pos())
	if rel, err := filepath.Rel(a.root, pos.Filename); err == nil {
		return fmt.Sprintf("%s:%d", filepath.ToSlash(rel), pos.Line)
	}
	return fmt.Sprintf("%s:%d", pos.Filename, pos.Line)
}
