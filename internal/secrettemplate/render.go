package secrettemplate

import (
	"errors"
	"fmt"
	"text/template/parse"
)

// value is what a pipeline yields: a string, or a boolean from eq, ne, not or a literal.
type value struct {
	s      string
	b      bool
	isBool bool
}

func (v value) truth() bool {
	if v.isBool {
		return v.b
	}
	return v.s != ""
}

func (v value) text() string {
	switch {
	case !v.isBool:
		return v.s
	case v.b:
		return "true"
	}
	return "false"
}

// dot is the cursor: the set of values (root), or the value of the enclosing with.
type dot struct {
	root bool
	v    value
}

type variable struct {
	name string
	v    value
}

// state is one Render: the only place that holds memory while a template runs.
type state struct {
	tree   *parse.Tree
	vals   *Values
	vars   []variable
	budget int // bytes the functions may still allocate
	out    []byte
}

var (
	errOutputTooLarge = fmt.Errorf("the rendered value exceeds %d KiB", MaxRenderedSize>>10)
	errBudget         = fmt.Errorf("the functions of this template produce more than %d KiB in total", funcBudget>>10)
)

// Render renders the template over v. The result is at most MaxRenderedSize bytes, and one call
// allocates a bounded amount of memory whatever the template and the values. Its errors give the
// place in the template and what failed, never a value.
func (t *Template) Render(v Values) ([]byte, error) {
	s := &state{tree: t.tree, vals: &v, budget: funcBudget}
	if err := s.list(t.tree.Root, dot{root: true}); err != nil {
		return nil, err
	}
	if s.out == nil {
		return []byte{}, nil
	}
	return s.out, nil
}

func (s *state) errorf(n parse.Node, err error) error {
	loc, _ := s.tree.ErrorContext(n)
	return fmt.Errorf("%s: %w", loc, err)
}

// charge takes n bytes from the budget before a function allocates them.
func (s *state) charge(n int) error {
	if n < 0 || n > s.budget {
		s.budget = 0
		return errBudget
	}
	s.budget -= n
	return nil
}

func (s *state) write(n parse.Node, text string) error {
	if len(text) > MaxRenderedSize-len(s.out) {
		return s.errorf(n, errOutputTooLarge)
	}
	if len(s.out)+len(text) > cap(s.out) {
		// Grow by doubling up to the cap, so that growing costs less than 2 * MaxRenderedSize in
		// all (append grows large slices by a quarter, which would cost about five times).
		grown := make([]byte, len(s.out), min(MaxRenderedSize, max(2*cap(s.out), len(s.out)+len(text), 256)))
		copy(grown, s.out)
		s.out = grown
	}
	s.out = append(s.out, text...)
	return nil
}

func (s *state) list(l *parse.ListNode, d dot) error {
	if l == nil {
		return nil
	}
	for _, n := range l.Nodes {
		if err := s.node(n, d); err != nil {
			return err
		}
	}
	return nil
}

func (s *state) node(n parse.Node, d dot) error {
	switch n := n.(type) {
	case *parse.TextNode:
		return s.write(n, string(n.Text))
	case *parse.CommentNode:
		return nil
	case *parse.ActionNode:
		v, err := s.pipe(n.Pipe, d)
		if err != nil || len(n.Pipe.Decl) > 0 {
			return err
		}
		return s.write(n, v.text())
	case *parse.IfNode:
		return s.branch(&n.BranchNode, d, false)
	case *parse.WithNode:
		return s.branch(&n.BranchNode, d, true)
	}
	// Parse refuses everything else; this is a second lock on the same door.
	return s.errorf(n, errors.New("this construct is not allowed"))
}

// branch runs if (with=false) or with. Variables declared inside end with it.
func (s *state) branch(b *parse.BranchNode, d dot, with bool) error {
	mark := len(s.vars)
	defer func() { s.vars = s.vars[:mark] }()
	v, err := s.pipe(b.Pipe, d)
	if err != nil {
		return err
	}
	if !v.truth() {
		return s.list(b.ElseList, d)
	}
	if with {
		d = dot{v: v}
	}
	return s.list(b.List, d)
}

func (s *state) pipe(p *parse.PipeNode, d dot) (value, error) {
	var v value
	for i, cmd := range p.Cmds {
		var err error
		if v, err = s.command(cmd, d, i > 0, v); err != nil {
			return value{}, err
		}
	}
	for _, decl := range p.Decl {
		s.vars = append(s.vars, variable{name: decl.Ident[0], v: v})
	}
	return v, nil
}

// command runs one command of a pipeline; final is the value piped into it, if piped.
func (s *state) command(cmd *parse.CommandNode, d dot, piped bool, final value) (value, error) {
	id, ok := cmd.Args[0].(*parse.IdentifierNode)
	if !ok {
		return s.arg(cmd.Args[0], d)
	}
	f := funcs[id.Ident]
	if f.lazy != nil { // and, or: evaluate only what decides the result
		return f.lazy(len(cmd.Args)-1, piped, final, func(i int) (value, error) { return s.arg(cmd.Args[1+i], d) })
	}
	args := make([]value, 0, len(cmd.Args))
	for _, a := range cmd.Args[1:] {
		v, err := s.arg(a, d)
		if err != nil {
			return value{}, err
		}
		args = append(args, v)
	}
	if piped {
		args = append(args, final)
	}
	v, err := f.call(s, args)
	if err != nil {
		return value{}, s.errorf(id, fmt.Errorf("%s: %w", id.Ident, err))
	}
	return v, nil
}

func (s *state) arg(n parse.Node, d dot) (value, error) {
	switch n := n.(type) {
	case *parse.StringNode:
		return value{s: n.Text}, nil
	case *parse.BoolNode:
		return value{b: n.True, isBool: true}, nil
	case *parse.FieldNode:
		return value{s: s.vals.field(n.Ident[0])}, nil
	case *parse.VariableNode:
		if n.Ident[0] == "$" {
			return value{s: s.vals.field(n.Ident[1])}, nil
		}
		for i := len(s.vars) - 1; i >= 0; i-- {
			if s.vars[i].name == n.Ident[0] {
				return s.vars[i].v, nil
			}
		}
	case *parse.DotNode:
		if !d.root {
			return d.v, nil
		}
	case *parse.PipeNode:
		return s.pipe(n, d)
	}
	return value{}, s.errorf(n, errors.New("this construct is not allowed"))
}
