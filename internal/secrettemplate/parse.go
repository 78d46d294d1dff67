// Package secrettemplate renders the values of a DeviceLogin's secretTemplate.data in a sandbox
// whose memory is bounded by construction.
//
// The syntax is Go's text/template, but only a small part of it is allowed: the five token values
// (.AccessToken, .TokenType, .Expiry, .IDToken, .Scope), string and boolean literals, variables
// declared once with :=, if/else/with, and the functions listed in funcs.go, each written here
// with a known output size. Parse walks the template's parse tree and refuses everything else;
// Render evaluates the tree itself (text/template's executor, with its printf and friends, is
// never used). There are no loops and no template calls, so every node runs at most once; every
// function charges what it allocates against one budget per Render before it allocates, and the
// output is capped at MaxRenderedSize. What one Render allocates is therefore bounded whatever
// the template does.
package secrettemplate

import (
	"errors"
	"fmt"
	"strings"
	"text/template/parse"
)

const (
	// MaxTemplateLength is the longest template, in bytes, that Parse accepts.
	MaxTemplateLength = 4096
	// MaxRenderedSize is the largest value, in bytes, that Render produces.
	MaxRenderedSize = 256 << 10

	// funcBudget is what all the functions of one Render may allocate together.
	funcBudget = 4 * MaxRenderedSize
	// maxDepth bounds how deeply actions, parentheses and if/with may nest.
	maxDepth = 100
)

// Values are what a template can use: .AccessToken, .TokenType, .Expiry, .IDToken and .Scope.
type Values struct{ AccessToken, TokenType, Expiry, IDToken, Scope string }

// fieldNames lists the fields of Values in the order the messages name them.
var fieldNames = []string{"AccessToken", "TokenType", "Expiry", "IDToken", "Scope"}

// field returns the value called name; Parse has checked that it is one of fieldNames.
func (v *Values) field(name string) string {
	switch name {
	case "AccessToken":
		return v.AccessToken
	case "TokenType":
		return v.TokenType
	case "Expiry":
		return v.Expiry
	case "IDToken":
		return v.IDToken
	case "Scope":
		return v.Scope
	}
	return ""
}

func isField(name string) bool {
	for _, f := range fieldNames {
		if f == name {
			return true
		}
	}
	return false
}

// Template is a parsed template that stays inside the sandbox. It is safe for concurrent use.
type Template struct {
	tree *parse.Tree
}

// Parse parses text as a template called name (the Secret key, used in messages) and refuses
// anything outside the sandbox. Its errors give the place in the template and what is not
// allowed; they quote only the template's own text, never a value.
func Parse(name, text string) (*Template, error) {
	if len(text) > MaxTemplateLength {
		return nil, fmt.Errorf("%s: the template is %d bytes long; the limit is %d", name, len(text), MaxTemplateLength)
	}
	tree := parse.New(name)
	// Functions are checked against the allow-list below, with a clearer message than the
	// parser's "not defined".
	tree.Mode = parse.SkipFuncCheck
	set := map[string]*parse.Tree{}
	if _, err := tree.Parse(text, "", "", set); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "template: "))
	}
	if len(set) != 1 || set[name] != tree {
		return nil, fmt.Errorf("%s: define and block are not allowed; write the value directly", name)
	}
	c := &checker{tree: tree, declared: map[string]bool{"$": true}}
	if err := c.list(tree.Root, true, 0); err != nil {
		return nil, err
	}
	return &Template{tree: tree}, nil
}

// checker walks a parse tree and refuses every node that is not on the allow-list. It also
// tracks statically whether dot is the set of values (outside with) or one value (inside with),
// so that field access can only ever reach Values.
type checker struct {
	tree     *parse.Tree
	declared map[string]bool
}

func (c *checker) errorf(n parse.Node, format string, args ...any) error {
	loc, _ := c.tree.ErrorContext(n)
	return fmt.Errorf("%s: %s", loc, fmt.Sprintf(format, args...))
}

func (c *checker) list(l *parse.ListNode, dotRoot bool, depth int) error {
	if l == nil {
		return nil
	}
	for _, n := range l.Nodes {
		if err := c.node(n, dotRoot, depth); err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) node(n parse.Node, dotRoot bool, depth int) error {
	if depth > maxDepth {
		return c.errorf(n, "the template nests deeper than %d levels", maxDepth)
	}
	switch n := n.(type) {
	case *parse.TextNode, *parse.CommentNode:
		return nil
	case *parse.ActionNode:
		return c.pipe(n.Pipe, dotRoot, depth+1, true)
	case *parse.IfNode:
		return c.branch(&n.BranchNode, dotRoot, dotRoot, depth)
	case *parse.WithNode:
		return c.branch(&n.BranchNode, false, dotRoot, depth)
	case *parse.RangeNode:
		return c.errorf(n, "range is not allowed: nothing a Secret needs takes a loop")
	case *parse.TemplateNode:
		return c.errorf(n, "template and block are not allowed; write the value directly")
	}
	return c.errorf(n, "%s is not allowed in a secret template", n)
}

// branch checks if and with: bodyDotRoot says whether dot in the body is still the set of values.
func (c *checker) branch(b *parse.BranchNode, bodyDotRoot, dotRoot bool, depth int) error {
	if err := c.pipe(b.Pipe, dotRoot, depth+1, true); err != nil {
		return err
	}
	if err := c.list(b.List, bodyDotRoot, depth+1); err != nil {
		return err
	}
	return c.list(b.ElseList, dotRoot, depth+1)
}

func (c *checker) pipe(p *parse.PipeNode, dotRoot bool, depth int, declOK bool) error {
	if depth > maxDepth {
		return c.errorf(p, "the template nests deeper than %d levels", maxDepth)
	}
	if p.IsAssign {
		return c.errorf(p, "variables cannot be reassigned with =; declare each one once with :=")
	}
	if len(p.Decl) > 0 && !declOK {
		return c.errorf(p, "declare variables at the start of an action, not inside parentheses")
	}
	if len(p.Decl) > 1 {
		return c.errorf(p, "declare one variable at a time")
	}
	for i, cmd := range p.Cmds {
		if err := c.command(cmd, i > 0, dotRoot, depth); err != nil {
			return err
		}
	}
	for _, d := range p.Decl {
		name := d.Ident[0]
		if c.declared[name] {
			return c.errorf(d, "variable %s is declared twice; declare each variable once", name)
		}
		c.declared[name] = true
	}
	return nil
}

func (c *checker) command(cmd *parse.CommandNode, piped, dotRoot bool, depth int) error {
	id, ok := cmd.Args[0].(*parse.IdentifierNode)
	if !ok {
		if piped {
			return c.errorf(cmd, "only a function can follow |")
		}
		if len(cmd.Args) > 1 {
			return c.errorf(cmd, "only functions take arguments")
		}
		return c.operand(cmd.Args[0], dotRoot, depth)
	}
	f, ok := funcs[id.Ident]
	if !ok {
		return c.errorf(id, "function %s is not allowed; the functions are %s", id.Ident, funcList())
	}
	n := len(cmd.Args) - 1
	if piped {
		n++
	}
	switch {
	case f.max < 0 && n < f.min:
		return c.errorf(id, "%s takes at least %d arguments, got %d", id.Ident, f.min, n)
	case f.max >= 0 && (n < f.min || n > f.max) && f.min == f.max:
		return c.errorf(id, "%s takes %d argument%s, got %d", id.Ident, f.min, plural(f.min), n)
	case f.max >= 0 && (n < f.min || n > f.max):
		return c.errorf(id, "%s takes %d to %d arguments, got %d", id.Ident, f.min, f.max, n)
	}
	for _, a := range cmd.Args[1:] {
		if err := c.operand(a, dotRoot, depth); err != nil {
			return err
		}
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// operand checks an argument: a value, a literal or a parenthesised pipeline.
func (c *checker) operand(n parse.Node, dotRoot bool, depth int) error {
	switch n := n.(type) {
	case *parse.StringNode, *parse.BoolNode:
		return nil
	case *parse.FieldNode:
		if !dotRoot {
			return c.errorf(n, "inside with, . is the value of the with; write $%s to reach a token value", n)
		}
		return c.fieldPath(n, n.Ident)
	case *parse.VariableNode:
		if n.Ident[0] != "$" {
			if len(n.Ident) > 1 {
				return c.errorf(n, "%s is a string and has no fields", n.Ident[0])
			}
			return nil
		}
		if len(n.Ident) == 1 {
			return c.errorf(n, "$ alone is the whole set of values; name one, such as $.AccessToken")
		}
		return c.fieldPath(n, n.Ident[1:])
	case *parse.DotNode:
		if dotRoot {
			return c.errorf(n, ". here is the whole set of values; name one, such as .AccessToken")
		}
		return nil
	case *parse.PipeNode:
		return c.pipe(n, dotRoot, depth+1, false)
	case *parse.IdentifierNode:
		return c.errorf(n, "put a function call inside an argument in parentheses, as in (%s ...)", n.Ident)
	case *parse.NumberNode:
		return c.errorf(n, "numbers are not supported; write them as strings, as in \"%s\"", n.Text)
	case *parse.NilNode:
		return c.errorf(n, "nil is not supported")
	}
	return c.errorf(n, "%s is not allowed in a secret template", n)
}

func (c *checker) fieldPath(n parse.Node, path []string) error {
	if !isField(path[0]) {
		return c.errorf(n, "there is no value .%s; the values are .%s", path[0], strings.Join(fieldNames, ", ."))
	}
	if len(path) > 1 {
		return c.errorf(n, ".%s is a string and has no fields", path[0])
	}
	return nil
}
