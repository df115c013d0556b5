package tuner

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"testing"
)

// TestTimedWrappersCoverEveryMethod: a method of Store, SFNAPI or
// observe.MetricsAPI left to the embedded interface of its timed wrapper
// would be called without a timeout; each wrapper must define them all.
func TestTimedWrappersCoverEveryMethod(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "timeout.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]map[string]bool{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil {
			continue
		}
		recv, ok := fn.Recv.List[0].Type.(*ast.Ident)
		if !ok {
			continue
		}
		if defined[recv.Name] == nil {
			defined[recv.Name] = map[string]bool{}
		}
		defined[recv.Name][fn.Name.Name] = true
	}
	for wrapper, iface := range map[string]reflect.Type{
		"timedStore":   reflect.TypeFor[Store](),
		"timedSFN":     reflect.TypeFor[SFNAPI](),
		"timedMetrics": reflect.TypeOf(timedMetrics{}).Field(0).Type,
	} {
		for i := range iface.NumMethod() {
			if m := iface.Method(i).Name; !defined[wrapper][m] {
				t.Errorf("%s does not wrap %s: the call would have no timeout", wrapper, m)
			}
		}
	}
}
