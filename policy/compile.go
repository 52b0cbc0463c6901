package policy

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// options are the compiler's: the environment, a boolean result, and
// the two readings of Env that expr does not make itself.
var options = []expr.Option{
	expr.Env(Env{}),
	expr.AsBool(),
	expr.Function("present", func(p ...any) (any, error) { return present(p[0]), nil }, new(func(any) bool)),
	expr.Patch(readings{}),
}

// present is how a tag reads in a boolean place.
func present(v any) bool { return v != nil && v != "" && v != false }

// compile compiles a condition. Errors name the line and column, with
// the source marked.
func compile(src string) (*vm.Program, error) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, err
	}
	if isTag(tree.Node) { // a lone tag is read as a boolean, too
		src = "present(" + src + ")"
	}
	return expr.Compile(src, options...)
}

// readings rewrites two forms:
//
//   - a tag in a boolean place (an operand of not, and, or) becomes
//     present(tag);
//   - backend == 'simulator' and backend != 'simulator' become simulator
//     and not simulator, since no backend is called just "simulator".
type readings struct{}

// Visit implements ast.Visitor.
func (readings) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.UnaryNode:
		if x.Operator == "not" || x.Operator == "!" {
			wrapTag(&x.Node)
		}
	case *ast.BinaryNode:
		switch x.Operator {
		case "and", "or", "&&", "||":
			wrapTag(&x.Left)
			wrapTag(&x.Right)
		case "==", "!=":
			if isSimulatorTest(x.Left, x.Right) || isSimulatorTest(x.Right, x.Left) {
				var out ast.Node = &ast.IdentifierNode{Value: "simulator"}
				if x.Operator == "!=" {
					out = &ast.UnaryNode{Operator: "not", Node: out}
				}
				ast.Patch(n, out)
			}
		}
	}
}

func isTag(n ast.Node) bool {
	m, ok := n.(*ast.MemberNode)
	if !ok {
		return false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	return ok && id.Value == "tags"
}

func wrapTag(n *ast.Node) {
	if isTag(*n) {
		ast.Patch(n, &ast.CallNode{Callee: &ast.IdentifierNode{Value: "present"}, Arguments: []ast.Node{*n}})
	}
}

func isSimulatorTest(a, b ast.Node) bool {
	id, ok := a.(*ast.IdentifierNode)
	s, ok2 := b.(*ast.StringNode)
	return ok && ok2 && id.Value == "backend" && strings.EqualFold(s.Value, "simulator")
}

// CompileError is a condition that does not compile.
type CompileError struct {
	// Kind is "policy" or "workflow"; Name names it.
	Kind, Name string
	Err        error
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("%s %q: condition: %v", e.Kind, e.Name, e.Err)
}

func (e *CompileError) Unwrap() error { return e.Err }
