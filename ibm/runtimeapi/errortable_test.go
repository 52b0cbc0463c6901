package runtimeapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// moduleRoot is the repository's root, seen from this package.
const moduleRoot = "../.."

// TestErrorTableMatchesDocs checks the one table of refusals,
// Statuses, against the code and against docs/errors.md: every code the
// gateway (everything but the simulator) refuses with is in Statuses,
// every status written beside a code agrees with it, and the docs list
// exactly Statuses.
func TestErrorTableMatchesDocs(t *testing.T) {
	refused, stated, named := gatewayCodes(t)
	require.NotEmpty(t, refused)
	for code := range refused {
		assert.Contains(t, Statuses, code, "the gateway refuses with %s, which Statuses lacks", code)
	}
	for code, statuses := range stated {
		for status := range statuses {
			assert.Equal(t, Statuses[code], status, "%s is written with status %d", code, status)
		}
	}
	for code := range Statuses {
		assert.True(t, names(named, code), "Statuses holds %s, which no gateway code names", code)
	}
	documented := documentedCodes(t, "Gateway codes")
	assert.Equal(t, Statuses, documented, "docs/errors.md lists Statuses, code by code")
}

// names reports whether the code's literals name code: whole, or joined
// from two literals (kind+"_not_found", "invalid_"+field).
func names(named map[string]bool, code string) bool {
	if named[code] {
		return true
	}
	for i := 1; i < len(code); i++ {
		if named[code[:i]] && named[code[i:]] {
			return true
		}
	}
	return false
}

// gatewayCodes reads the Go source outside the simulator and the command
// line (which answers nothing over HTTP): the codes of refusals
// (denial.New, denial.Newf, denial.Denial literals), the codes written
// with a literal status (Errorf, and Error and the console's apiError
// literals), and every string literal, so that a code built elsewhere
// (kind+"_not_found") counts as named.
func gatewayCodes(t *testing.T) (refused map[string]bool, stated map[string]map[int]bool, named map[string]bool) {
	refused, stated, named = map[string]bool{}, map[string]map[int]bool{}, map[string]bool{}
	add := func(code string, status int) {
		if stated[code] == nil {
			stated[code] = map[int]bool{}
		}
		stated[code][status] = true
	}
	fset := token.NewFileSet()
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (d.Name() == "simulator" || d.Name() == "govcli" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != moduleRoot:
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go"):
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING {
					named[s] = true
				}
			case *ast.CallExpr:
				switch name := callee(n); {
				case name == "Errorf" && len(n.Args) >= 2:
					if status, ok := statusOf(n.Args[0]); ok {
						if code, ok := stringOf(n.Args[1]); ok {
							add(code, status)
						}
					}
				case (name == "New" || name == "Newf") && len(n.Args) >= 1 && pkgOf(n) == "denial":
					if code, ok := stringOf(n.Args[0]); ok {
						refused[code] = true
					}
				}
			case *ast.CompositeLit:
				var status int
				var code string
				for _, e := range n.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					switch key, _ := kv.Key.(*ast.Ident); {
					case key == nil:
					case key.Name == "Status":
						status, _ = statusOf(kv.Value)
					case key.Name == "Code":
						code, _ = stringOf(kv.Value)
					}
				}
				switch {
				case code != "" && status != 0:
					add(code, status)
				case code != "" && typeName(n) == "denial.Denial":
					refused[code] = true
				}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	return refused, stated, named
}

// pkgOf is the package a call names: "denial" for denial.New(…).
func pkgOf(c *ast.CallExpr) string {
	if f, ok := c.Fun.(*ast.SelectorExpr); ok {
		if x, ok := f.X.(*ast.Ident); ok {
			return x.Name
		}
	}
	return ""
}

// typeName is a composite literal's type as written: "denial.Denial".
func typeName(c *ast.CompositeLit) string {
	if f, ok := c.Type.(*ast.SelectorExpr); ok {
		if x, ok := f.X.(*ast.Ident); ok {
			return x.Name + "." + f.Sel.Name
		}
	}
	return ""
}

// callee is the name of a called function or method.
func callee(c *ast.CallExpr) string {
	switch f := c.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

// statusOf reads http.StatusX or a number.
func statusOf(e ast.Expr) (int, bool) {
	switch e := e.(type) {
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok && x.Name == "http" {
			if s, ok := httpStatuses[e.Sel.Name]; ok {
				return s, true
			}
		}
	case *ast.BasicLit:
		if n, err := strconv.Atoi(e.Value); err == nil {
			return n, true
		}
	}
	return 0, false
}

func stringOf(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// httpStatuses are net/http's status constants by name.
var httpStatuses = func() map[string]int {
	m := map[string]int{}
	for code := 100; code < 600; code++ {
		if text := http.StatusText(code); text != "" {
			name := "Status" + strings.NewReplacer(" ", "", "-", "", "'", "").Replace(text)
			m[name] = code
		}
	}
	m["StatusRequestEntityTooLarge"] = http.StatusRequestEntityTooLarge
	m["StatusRequestURITooLong"] = http.StatusRequestURITooLong
	m["StatusRequestedRangeNotSatisfiable"] = http.StatusRequestedRangeNotSatisfiable
	return m
}()

// documentedCodes reads the rows of a docs/errors.md section's table:
// | `code` | status | when |.
func documentedCodes(t *testing.T, section string) map[string]int {
	raw, err := os.ReadFile(filepath.Join(moduleRoot, "docs", "errors.md"))
	require.NoError(t, err)
	text := string(raw)
	start := strings.Index(text, "\n## "+section+"\n")
	require.GreaterOrEqual(t, start, 0, "docs/errors.md has a section %q", section)
	text = text[start+1:]
	if end := strings.Index(text[3:], "\n## "); end >= 0 {
		text = text[:end+3]
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| ([0-9]{3}) \\|")
	out := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(text, -1) {
		status, _ := strconv.Atoi(m[2])
		_, dup := out[m[1]]
		assert.False(t, dup, "docs/errors.md lists %s twice", m[1])
		out[m[1]] = status
	}
	return out
}
