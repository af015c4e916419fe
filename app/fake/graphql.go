package fake

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// This file holds the GraphQL half of the fake Shopify: the real 2026-10 Admin
// schema (rebuilt from its introspection result), query validation against it,
// a small executor over an in-memory object graph, and query cost.

//go:embed schema/admin-2026-10.introspection.json.gz
var adminIntrospectionGz []byte

var adminSchema struct {
	once   sync.Once
	schema *ast.Schema
	err    error
	took   time.Duration
}

// AdminSchema returns the Shopify Admin GraphQL schema (API version 2026-10)
// the fake validates every query against. It is built from the embedded
// introspection result on first use (a few hundred milliseconds) and shared by
// every fake afterwards. The schema must be treated as read-only.
func AdminSchema() (*ast.Schema, error) {
	adminSchema.once.Do(func() {
		start := time.Now()
		adminSchema.schema, adminSchema.err = loadIntrospection(adminIntrospectionGz)
		adminSchema.took = time.Since(start)
	})
	return adminSchema.schema, adminSchema.err
}

// AdminSchemaLoadTime reports how long building AdminSchema took, or zero if it
// has not been built yet.
func AdminSchemaLoadTime() time.Duration {
	if _, err := AdminSchema(); err != nil {
		return 0
	}
	return adminSchema.took
}

// Introspection result, reduced to what validation needs (descriptions and
// Shopify's access annotations are skipped by the decoder).
type introTypeRef struct {
	Kind   string        `json:"kind"`
	Name   *string       `json:"name"`
	OfType *introTypeRef `json:"ofType"`
}

type introInputValue struct {
	Name              string       `json:"name"`
	Type              introTypeRef `json:"type"`
	DefaultValue      *string      `json:"defaultValue"`
	IsDeprecated      bool         `json:"isDeprecated"`
	DeprecationReason *string      `json:"deprecationReason"`
}

type introField struct {
	Name              string            `json:"name"`
	Args              []introInputValue `json:"args"`
	Type              introTypeRef      `json:"type"`
	IsDeprecated      bool              `json:"isDeprecated"`
	DeprecationReason *string           `json:"deprecationReason"`
}

type introEnumValue struct {
	Name              string  `json:"name"`
	IsDeprecated      bool    `json:"isDeprecated"`
	DeprecationReason *string `json:"deprecationReason"`
}

type introName struct {
	Name string `json:"name"`
}

type introType struct {
	Kind          string            `json:"kind"`
	Name          string            `json:"name"`
	Fields        []introField      `json:"fields"`
	InputFields   []introInputValue `json:"inputFields"`
	Interfaces    []introName       `json:"interfaces"`
	EnumValues    []introEnumValue  `json:"enumValues"`
	PossibleTypes []introName       `json:"possibleTypes"`
	IsOneOf       *bool             `json:"isOneOf"`
}

type introDirective struct {
	Name         string            `json:"name"`
	Locations    []string          `json:"locations"`
	Args         []introInputValue `json:"args"`
	IsRepeatable bool              `json:"isRepeatable"`
}

type introSchema struct {
	QueryType        *introName       `json:"queryType"`
	MutationType     *introName       `json:"mutationType"`
	SubscriptionType *introName       `json:"subscriptionType"`
	Types            []introType      `json:"types"`
	Directives       []introDirective `json:"directives"`
}

// loadIntrospection turns a (gzipped) introspection result into a validated
// gqlparser schema: gqlparser only reads SDL, so the definitions are built
// here, merged with gqlparser's prelude (built-in scalars, directives and the
// __Schema types) and checked by validator.ValidateSchemaDocument.
func loadIntrospection(gz []byte) (*ast.Schema, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("open introspection: %w", err)
	}
	var doc struct {
		Data struct {
			Schema *introSchema `json:"__schema"`
		} `json:"data"`
		Schema *introSchema `json:"__schema"`
	}
	if err := json.NewDecoder(zr).Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode introspection: %w", err)
	}
	is := doc.Data.Schema
	if is == nil {
		is = doc.Schema
	}
	if is == nil || is.QueryType == nil {
		return nil, errors.New("introspection has no __schema.queryType")
	}

	prelude := validator.PreludeDocument()
	builtIn := map[string]bool{}
	for _, d := range prelude.Definitions {
		builtIn[d.Name] = true
	}
	builtInDirective := map[string]bool{}
	for _, d := range prelude.Directives {
		builtInDirective[d.Name] = true
	}

	b := &schemaBuilder{}
	sd := &ast.SchemaDocument{}
	for i := range is.Types {
		t := &is.Types[i]
		if builtIn[t.Name] || strings.HasPrefix(t.Name, "__") {
			continue
		}
		def, err := b.definition(t)
		if err != nil {
			return nil, err
		}
		sd.Definitions = append(sd.Definitions, def)
	}
	for i := range is.Directives {
		d := &is.Directives[i]
		if builtInDirective[d.Name] {
			continue
		}
		dd := &ast.DirectiveDefinition{
			Name:         d.Name,
			Arguments:    b.arguments(d.Args),
			IsRepeatable: d.IsRepeatable,
		}
		for _, l := range d.Locations {
			dd.Locations = append(dd.Locations, ast.DirectiveLocation(l))
		}
		sd.Directives = append(sd.Directives, dd)
	}
	root := &ast.SchemaDefinition{}
	root.OperationTypes = append(root.OperationTypes, &ast.OperationTypeDefinition{Operation: ast.Query, Type: is.QueryType.Name})
	if is.MutationType != nil {
		root.OperationTypes = append(root.OperationTypes, &ast.OperationTypeDefinition{Operation: ast.Mutation, Type: is.MutationType.Name})
	}
	if is.SubscriptionType != nil {
		root.OperationTypes = append(root.OperationTypes, &ast.OperationTypeDefinition{Operation: ast.Subscription, Type: is.SubscriptionType.Name})
	}
	sd.Schema = append(sd.Schema, root)

	if err := b.parseDefaults(); err != nil {
		return nil, err
	}

	prelude.Merge(sd)
	schema, err := validator.ValidateSchemaDocument(prelude)
	if err != nil {
		return nil, fmt.Errorf("build schema from introspection: %w", err)
	}
	return schema, nil
}

// schemaBuilder converts introspection types; default values (GraphQL
// literals in the introspection) are collected and parsed in one go.
type schemaBuilder struct {
	defaults []pendingDefault
}

type pendingDefault struct {
	literal string
	set     func(*ast.Value)
}

func (b *schemaBuilder) definition(t *introType) (*ast.Definition, error) {
	def := &ast.Definition{Kind: ast.DefinitionKind(t.Kind), Name: t.Name}
	switch def.Kind {
	case ast.Object, ast.Interface:
		for _, f := range t.Fields {
			fd := &ast.FieldDefinition{
				Name:      f.Name,
				Arguments: b.arguments(f.Args),
				Type:      typeRef(&f.Type),
			}
			if f.IsDeprecated {
				fd.Directives = deprecated(f.DeprecationReason)
			}
			def.Fields = append(def.Fields, fd)
		}
		for _, i := range t.Interfaces {
			def.Interfaces = append(def.Interfaces, i.Name)
		}
	case ast.Union:
		for _, p := range t.PossibleTypes {
			def.Types = append(def.Types, p.Name)
		}
	case ast.Enum:
		for _, v := range t.EnumValues {
			ev := &ast.EnumValueDefinition{Name: v.Name}
			if v.IsDeprecated {
				ev.Directives = deprecated(v.DeprecationReason)
			}
			def.EnumValues = append(def.EnumValues, ev)
		}
	case ast.InputObject:
		for _, f := range t.InputFields {
			fd := &ast.FieldDefinition{Name: f.Name, Type: typeRef(&f.Type)}
			if f.IsDeprecated {
				fd.Directives = deprecated(f.DeprecationReason)
			}
			if f.DefaultValue != nil {
				b.defaults = append(b.defaults, pendingDefault{*f.DefaultValue, func(v *ast.Value) { fd.DefaultValue = v }})
			}
			def.Fields = append(def.Fields, fd)
		}
		if t.IsOneOf != nil && *t.IsOneOf {
			def.Directives = append(def.Directives, &ast.Directive{Name: "oneOf", Location: ast.LocationInputObject})
		}
	case ast.Scalar:
	default:
		return nil, fmt.Errorf("introspection type %s has unknown kind %q", t.Name, t.Kind)
	}
	return def, nil
}

func (b *schemaBuilder) arguments(args []introInputValue) ast.ArgumentDefinitionList {
	var out ast.ArgumentDefinitionList
	for _, a := range args {
		ad := &ast.ArgumentDefinition{Name: a.Name, Type: typeRef(&a.Type)}
		if a.IsDeprecated {
			ad.Directives = deprecated(a.DeprecationReason)
		}
		if a.DefaultValue != nil {
			b.defaults = append(b.defaults, pendingDefault{*a.DefaultValue, func(v *ast.Value) { ad.DefaultValue = v }})
		}
		out = append(out, ad)
	}
	return out
}

// parseDefaults parses every default value literal with one call to the query
// parser, as defaults of variables of a dummy operation (gqlparser exports no
// value parser).
func (b *schemaBuilder) parseDefaults() error {
	if len(b.defaults) == 0 {
		return nil
	}
	var q strings.Builder
	q.WriteString("query(")
	for i, d := range b.defaults {
		fmt.Fprintf(&q, "$v%d: Int = %s\n", i, d.literal)
	}
	q.WriteString(") { __typename }")
	doc, err := parser.ParseQuery(&ast.Source{Name: "defaults", Input: q.String()})
	if err != nil {
		return fmt.Errorf("parse introspection default values: %w", err)
	}
	vars := doc.Operations[0].VariableDefinitions
	if len(vars) != len(b.defaults) {
		return fmt.Errorf("parse introspection default values: got %d, want %d", len(vars), len(b.defaults))
	}
	for i, d := range b.defaults {
		v := vars[i].DefaultValue
		clearPositions(v)
		d.set(v)
	}
	return nil
}

func clearPositions(v *ast.Value) {
	if v == nil {
		return
	}
	v.Position = nil
	for _, c := range v.Children {
		c.Position = nil
		clearPositions(c.Value)
	}
}

func deprecated(reason *string) ast.DirectiveList {
	d := &ast.Directive{Name: "deprecated", Location: ast.LocationFieldDefinition}
	if reason != nil {
		d.Arguments = ast.ArgumentList{{Name: "reason", Value: &ast.Value{Kind: ast.StringValue, Raw: *reason}}}
	}
	return ast.DirectiveList{d}
}

func typeRef(r *introTypeRef) *ast.Type {
	switch r.Kind {
	case "NON_NULL":
		t := typeRef(r.OfType)
		t.NonNull = true
		return t
	case "LIST":
		return &ast.Type{Elem: typeRef(r.OfType)}
	default:
		if r.Name == nil {
			return &ast.Type{}
		}
		return &ast.Type{NamedType: *r.Name}
	}
}

// gqlError is one entry of a GraphQL "errors" array.
type gqlError struct {
	Message    string         `json:"message"`
	Locations  []gqlLocation  `json:"locations,omitempty"`
	Path       []any          `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

type gqlLocation struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// validationCodes maps gqlparser rule names to the codes graphql-ruby (and so
// Shopify) puts in errors[].extensions.code.
var validationCodes = map[string]string{
	"FieldsOnCorrectType":          "undefinedField",
	"KnownArgumentNames":           "argumentNotAccepted",
	"ProvidedRequiredArguments":    "missingRequiredArguments",
	"KnownTypeNames":               "undefinedType",
	"ValuesOfCorrectType":          "argumentLiteralsIncompatible",
	"VariablesInAllowedPosition":   "variableMismatch",
	"NoUnusedVariables":            "variableNotUsed",
	"NoUndefinedVariables":         "variableNotDefined",
	"ScalarLeafs":                  "selectionMismatch",
	"KnownFragmentNames":           "undefinedFragment",
	"NoUnusedFragments":            "useAndDefineFragment",
	"KnownDirectives":              "undefinedDirective",
	"UniqueArgumentNames":          "argumentNotUnique",
	"OverlappingFieldsCanBeMerged": "fieldConflict",
	"PossibleFragmentSpreads":      "cannotSpreadFragment",
	"FragmentsOnCompositeTypes":    "fragmentOnNonCompositeType",
	"VariablesAreInputTypes":       "variableRequiresValidType",
	"NoFragmentCycles":             "infiniteLoop",
	"UniqueOperationNames":         "operationNotUnique",
	"LoneAnonymousOperation":       "anonymousOperationNotAlone",
	"KnownRootType":                "missingQueryConfiguration",
}

func toGQLErrors(list gqlerror.List, parseFailed bool) []gqlError {
	out := make([]gqlError, 0, len(list))
	for _, e := range list {
		ge := gqlError{Message: e.Message}
		for _, l := range e.Locations {
			ge.Locations = append(ge.Locations, gqlLocation{Line: l.Line, Column: l.Column})
		}
		for _, p := range e.Path {
			switch p := p.(type) {
			case ast.PathName:
				ge.Path = append(ge.Path, string(p))
			case ast.PathIndex:
				ge.Path = append(ge.Path, int(p))
			}
		}
		code := validationCodes[e.Rule]
		switch {
		case parseFailed:
			code = "GRAPHQL_PARSE_FAILED"
		case code == "":
			code = "GRAPHQL_VALIDATION_FAILED"
		}
		ge.Extensions = map[string]any{"code": code}
		out = append(out, ge)
	}
	return out
}

// validateQuery parses query and validates it against schema.
func validateQuery(schema *ast.Schema, query string) (*ast.QueryDocument, []gqlError) {
	if _, err := parser.ParseQuery(&ast.Source{Input: query}); err != nil {
		var list gqlerror.List
		var ge *gqlerror.Error
		if errors.As(err, &ge) {
			list = gqlerror.List{ge}
		} else {
			list = gqlerror.List{gqlerror.Wrap(err)}
		}
		return nil, toGQLErrors(list, true)
	}
	doc, errs := gqlparser.LoadQueryWithRules(schema, query, nil)
	if len(errs) > 0 {
		return nil, toGQLErrors(errs, false)
	}
	return doc, nil
}

// selectOperation picks the operation to run, as a GraphQL server does.
func selectOperation(doc *ast.QueryDocument, name string) (*ast.OperationDefinition, error) {
	if name != "" {
		if op := doc.Operations.ForName(name); op != nil {
			return op, nil
		}
		return nil, fmt.Errorf("no operation named %q", name)
	}
	if len(doc.Operations) != 1 {
		return nil, errors.New("an operation name is required when the document has several operations")
	}
	return doc.Operations[0], nil
}

// The object graph the executor walks. A node is a map from field name to a
// value: a scalar, nil, a nested object (map[string]any), a list ([]any), a
// ref to another node by GID, or a fieldFunc computing the value from the
// field's arguments. Objects of an abstract type carry "__typename". A list
// given for a field whose type is a Shopify connection is paginated into
// {nodes, edges, pageInfo}.
type (
	ref       string
	fieldFunc func(args map[string]any) (any, error)
)

// orderedObject is a JSON object that keeps the order of the selection set.
type orderedObject struct {
	keys []string
	vals map[string]any
}

func newOrderedObject() *orderedObject { return &orderedObject{vals: map[string]any{}} }

func (o *orderedObject) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *orderedObject) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

const maxPageSize = 250

// executor runs one validated operation over the object graph.
type executor struct {
	schema *ast.Schema
	doc    *ast.QueryDocument
	vars   map[string]any
	lookup func(gid string) map[string]any
	errs   []gqlError
	// actualCost counts what the answer really holds, as Shopify's actualQueryCost.
	actualCost int
	// rejected is set when an argument is refused at run time (as Shopify
	// does for a connection without first/last, or a page over 250).
	rejected bool
}

func (e *executor) run(op *ast.OperationDefinition, root map[string]any) (data *orderedObject) {
	var rootDef *ast.Definition
	switch op.Operation {
	case ast.Mutation:
		rootDef = e.schema.Mutation
	case ast.Subscription:
		rootDef = e.schema.Subscription
	default:
		rootDef = e.schema.Query
	}
	if op.Operation != ast.Query && op.Operation != "" {
		e.addError(nil, nil, "the fake Shopify answers queries only, not %ss", op.Operation)
		return nil
	}
	return e.selectionSet(root, rootDef.Name, op.SelectionSet, nil)
}

func (e *executor) addError(f *ast.Field, path []any, format string, args ...any) {
	ge := gqlError{Message: fmt.Sprintf(format, args...), Path: append([]any(nil), path...)}
	if f != nil && f.Position != nil {
		ge.Locations = []gqlLocation{{Line: f.Position.Line, Column: f.Position.Column}}
	}
	e.errs = append(e.errs, ge)
}

// reject reports an argument Shopify would refuse.
func (e *executor) reject(f *ast.Field, path []any, format string, args ...any) {
	e.rejected = true
	e.addError(f, path, format, args...)
}

type fieldGroup struct {
	key    string
	fields []*ast.Field
}

// collectFields implements the spec's CollectFields: it flattens fragments
// that apply to typeName and groups fields by response key, in order.
func (e *executor) collectFields(typeName string, sel ast.SelectionSet, groups []fieldGroup, index map[string]int, visited map[string]bool) []fieldGroup {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if !e.included(s.Directives) {
				continue
			}
			key := s.Alias
			if key == "" {
				key = s.Name
			}
			if i, ok := index[key]; ok {
				groups[i].fields = append(groups[i].fields, s)
				continue
			}
			index[key] = len(groups)
			groups = append(groups, fieldGroup{key: key, fields: []*ast.Field{s}})
		case *ast.InlineFragment:
			if !e.included(s.Directives) || !e.applies(s.TypeCondition, typeName) {
				continue
			}
			groups = e.collectFields(typeName, s.SelectionSet, groups, index, visited)
		case *ast.FragmentSpread:
			if !e.included(s.Directives) || visited[s.Name] {
				continue
			}
			visited[s.Name] = true
			frag := e.doc.Fragments.ForName(s.Name)
			if frag == nil || !e.applies(frag.TypeCondition, typeName) {
				continue
			}
			groups = e.collectFields(typeName, frag.SelectionSet, groups, index, visited)
		}
	}
	return groups
}

func (e *executor) included(dirs ast.DirectiveList) bool {
	for _, d := range dirs {
		if d.Name != "skip" && d.Name != "include" {
			continue
		}
		arg := d.Arguments.ForName("if")
		if arg == nil {
			continue
		}
		v, err := arg.Value.Value(e.vars)
		if err != nil {
			continue
		}
		b, _ := v.(bool)
		if d.Name == "skip" && b || d.Name == "include" && !b {
			return false
		}
	}
	return true
}

func (e *executor) applies(cond, typeName string) bool {
	if cond == "" || cond == typeName {
		return true
	}
	condDef := e.schema.Types[cond]
	if condDef == nil {
		return false
	}
	for _, p := range e.schema.GetPossibleTypes(condDef) {
		if p.Name == typeName {
			return true
		}
	}
	return false
}

func (e *executor) selectionSet(obj map[string]any, typeName string, sel ast.SelectionSet, path []any) *orderedObject {
	out := newOrderedObject()
	typeDef := e.schema.Types[typeName]
	for _, g := range e.collectFields(typeName, sel, nil, map[string]int{}, map[string]bool{}) {
		out.set(g.key, e.field(obj, typeDef, g, append(path, g.key)))
	}
	return out
}

func (e *executor) field(obj map[string]any, typeDef *ast.Definition, g fieldGroup, path []any) (result any) {
	f := g.fields[0]
	switch f.Name {
	case "__typename":
		return typeDef.Name
	case "__schema", "__type":
		e.addError(f, path, "the fake Shopify does not answer introspection queries")
		return nil
	}
	def := typeDef.Fields.ForName(f.Name)
	if def == nil {
		def = f.Definition
	}
	if def == nil {
		e.addError(f, path, "Field '%s' doesn't exist on type '%s'", f.Name, typeDef.Name)
		return nil
	}
	args, err := argumentMap(def, f, e.vars)
	if err != nil {
		e.reject(f, path, "%v", err)
		return nil
	}
	var sub ast.SelectionSet
	for _, ff := range g.fields {
		sub = append(sub, ff.SelectionSet...)
	}
	named := e.schema.Types[def.Type.Name()]
	if def.Type.Elem == nil && isConnection(named) {
		if _, hasFirst := args["first"]; !hasFirst {
			if _, hasLast := args["last"]; !hasLast && def.Arguments.ForName("first") != nil {
				e.reject(f, path, "you must provide one of first or last")
				return nil
			}
		}
		for _, a := range []string{"first", "last"} {
			if n, ok := asInt(args[a]); ok && (n < 0 || n > maxPageSize) {
				e.reject(f, path, "The '%s' argument must be between 0 and %d", a, maxPageSize)
				return nil
			}
		}
	}
	raw := obj[f.Name]
	if fn, ok := raw.(fieldFunc); ok {
		raw, err = fn(args)
		if err != nil {
			e.reject(f, path, "%v", err)
			return nil
		}
	}
	return e.complete(def.Type, raw, args, sub, path, f)
}

// argumentMap is ast.Field.ArgumentMap without its panics.
func argumentMap(def *ast.FieldDefinition, f *ast.Field, vars map[string]any) (args map[string]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			args, err = nil, fmt.Errorf("invalid argument: %v", r)
		}
	}()
	shadow := *f
	shadow.Definition = def
	return shadow.ArgumentMap(vars), nil
}

func isConnection(def *ast.Definition) bool {
	return def != nil && def.Kind == ast.Object && strings.HasSuffix(def.Name, "Connection") &&
		def.Fields.ForName("edges") != nil && def.Fields.ForName("pageInfo") != nil
}

func (e *executor) complete(t *ast.Type, raw any, args map[string]any, sub ast.SelectionSet, path []any, f *ast.Field) any {
	if t.Elem != nil {
		var list []any
		switch v := raw.(type) {
		case nil:
			if t.NonNull {
				return []any{}
			}
			return nil
		case []any:
			list = v
		default:
			e.addError(f, path, "internal: %T is not a list", raw)
			return nil
		}
		out := make([]any, len(list))
		for i, item := range list {
			out[i] = e.complete(t.Elem, item, nil, sub, append(path, i), f)
		}
		return out
	}
	def := e.schema.Types[t.NamedType]
	if def == nil {
		e.addError(f, path, "internal: unknown type %s", t.NamedType)
		return nil
	}
	if def.IsLeafType() {
		if raw == nil {
			if t.NonNull {
				return zeroLeaf(def)
			}
			return nil
		}
		return serializeLeaf(def, raw)
	}
	if isConnection(def) {
		if raw == nil {
			raw = []any{}
		}
		if list, ok := raw.([]any); ok {
			raw = e.connection(def, list, args)
			e.actualCost++
		}
	}
	var obj map[string]any
	switch v := raw.(type) {
	case ref:
		obj = e.lookup(string(v))
	case map[string]any:
		obj = v
	case nil:
	default:
		e.addError(f, path, "internal: %T is not an object", raw)
		return nil
	}
	if obj == nil {
		if !t.NonNull {
			return nil
		}
		obj = map[string]any{}
	}
	concrete := def.Name
	if tn, ok := obj["__typename"].(string); ok {
		concrete = tn
	} else if def.IsAbstractType() {
		if pts := e.schema.GetPossibleTypes(def); len(pts) > 0 {
			concrete = pts[0].Name
		}
	}
	if e.schema.Types[concrete] == nil {
		e.addError(f, path, "internal: unknown type %s", concrete)
		return nil
	}
	e.actualCost++
	return e.selectionSet(obj, concrete, sub, path)
}

// connection pages list according to first/last/after/before.
func (e *executor) connection(def *ast.Definition, list []any, args map[string]any) map[string]any {
	start, end := 0, len(list)
	if c, ok := args["after"].(string); ok {
		if i, ok := decodeCursor(c); ok && i+1 > start {
			start = min(i+1, end)
		}
	}
	if c, ok := args["before"].(string); ok {
		if i, ok := decodeCursor(c); ok && i < end {
			end = max(i, start)
		}
	}
	if n, ok := asInt(args["first"]); ok && start+n < end {
		end = start + n
	}
	if n, ok := asInt(args["last"]); ok && end-n > start {
		start = end - n
	}
	edgeType := ""
	if ef := def.Fields.ForName("edges"); ef != nil {
		edgeType = ef.Type.Name()
	}
	items := append([]any(nil), list[start:end]...)
	edges := make([]any, len(items))
	for i, item := range items {
		edges[i] = map[string]any{"__typename": edgeType, "cursor": encodeCursor(start + i), "node": item}
	}
	pageInfo := map[string]any{
		"__typename":      "PageInfo",
		"hasNextPage":     end < len(list),
		"hasPreviousPage": start > 0,
		"startCursor":     nil,
		"endCursor":       nil,
	}
	if len(items) > 0 {
		pageInfo["startCursor"] = encodeCursor(start)
		pageInfo["endCursor"] = encodeCursor(end - 1)
	}
	return map[string]any{"__typename": def.Name, "nodes": items, "edges": edges, "pageInfo": pageInfo}
}

func encodeCursor(i int) string {
	return base64.StdEncoding.EncodeToString([]byte("fake-cursor:" + strconv.Itoa(i)))
}

func decodeCursor(c string) (int, bool) {
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	s, ok := strings.CutPrefix(string(b), "fake-cursor:")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	return i, err == nil && i >= 0
}

// asInt reads an integer argument or variable, whatever Go type it arrived as.
func asInt(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, true
	case int32:
		return int(v), true
	case int64:
		return int(v), true
	case float64:
		return int(v), v == float64(int(v))
	case json.Number:
		n, err := v.Int64()
		return int(n), err == nil
	}
	return 0, false
}

// serializeLeaf formats a scalar or enum value the way Shopify does: 64-bit
// integer scalars (UnsignedInt64, BigInt) and IDs are JSON strings.
func serializeLeaf(def *ast.Definition, v any) any {
	switch def.Name {
	case "Int":
		if n, ok := asInt(v); ok {
			return n
		}
	case "Float":
		switch n := v.(type) {
		case float64:
			return n
		case int:
			return float64(n)
		case int64:
			return float64(n)
		}
	case "UnsignedInt64", "BigInt", "ID", "String", "Money", "Decimal", "URL", "HTML", "DateTime", "Date":
		switch n := v.(type) {
		case int:
			return strconv.Itoa(n)
		case int64:
			return strconv.FormatInt(n, 10)
		case uint64:
			return strconv.FormatUint(n, 10)
		}
	}
	return v
}

func zeroLeaf(def *ast.Definition) any {
	if def.Kind == ast.Enum {
		if len(def.EnumValues) > 0 {
			return def.EnumValues[0].Name
		}
		return ""
	}
	switch def.Name {
	case "Int":
		return 0
	case "Float":
		return 0.0
	case "Boolean":
		return false
	case "UnsignedInt64", "BigInt":
		return "0"
	case "Money", "Decimal":
		return "0.0"
	case "DateTime":
		return "2026-01-01T00:00:00Z"
	case "Date":
		return "2026-01-01"
	case "JSON":
		return map[string]any{}
	}
	return ""
}

// queryCost estimates Shopify's requestedQueryCost: leaves cost 0, an object
// 1, a connection 2 + n × (1 + the cost of one node) with n its first/last
// argument, and a list of objects n × (1 + the cost of one element) with n
// the length of its list argument (nodes(ids:)), else 1. Fragments add up
// (Shopify takes the dearest type; summing overestimates a little).
func queryCost(schema *ast.Schema, doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any) int {
	c := &coster{schema: schema, doc: doc, vars: vars}
	return c.selection(op.SelectionSet, 0)
}

type coster struct {
	schema *ast.Schema
	doc    *ast.QueryDocument
	vars   map[string]any
}

const maxCostDepth = 64

func (c *coster) fields(sel ast.SelectionSet, depth int, fn func(*ast.Field)) {
	if depth > maxCostDepth {
		return
	}
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			fn(s)
		case *ast.InlineFragment:
			c.fields(s.SelectionSet, depth+1, fn)
		case *ast.FragmentSpread:
			if frag := c.doc.Fragments.ForName(s.Name); frag != nil {
				c.fields(frag.SelectionSet, depth+1, fn)
			}
		}
	}
}

func (c *coster) selection(sel ast.SelectionSet, depth int) int {
	total := 0
	c.fields(sel, depth, func(f *ast.Field) { total += c.field(f, depth+1) })
	return total
}

func (c *coster) field(f *ast.Field, depth int) int {
	if f.Definition == nil || strings.HasPrefix(f.Name, "__") || depth > maxCostDepth {
		return 0
	}
	def := c.schema.Types[f.Definition.Type.Name()]
	if def == nil || def.IsLeafType() {
		return 0
	}
	args, _ := argumentMap(f.Definition, f, c.vars)
	if f.Definition.Type.Elem == nil && isConnection(def) {
		n, ok := asInt(args["first"])
		if !ok {
			n, _ = asInt(args["last"])
		}
		item := 0
		c.fields(f.SelectionSet, depth, func(cf *ast.Field) {
			switch cf.Name {
			case "nodes":
				item = max(item, c.selection(cf.SelectionSet, depth+1))
			case "edges":
				c.fields(cf.SelectionSet, depth+1, func(ef *ast.Field) {
					if ef.Name == "node" {
						item = max(item, c.selection(ef.SelectionSet, depth+2))
					}
				})
			}
		})
		return 2 + n*(1+item)
	}
	children := c.selection(f.SelectionSet, depth)
	if f.Definition.Type.Elem != nil {
		n := 1
		for _, ad := range f.Definition.Arguments {
			if ad.Type.Elem != nil {
				if l, ok := args[ad.Name].([]any); ok {
					n = len(l)
					break
				}
			}
		}
		return n * (1 + children)
	}
	return 1 + children
}

// decodeJSON decodes with numbers kept as json.Number, so 64-bit ids in
// variables survive.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	return dec.Decode(v)
}
