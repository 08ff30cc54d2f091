// Package envoyroute evaluates Envoy's HTTP route matching over a RouteConfiguration: which
// virtual host takes a request's authority, which route (the first in order whose match holds)
// takes it, the clusters it is split across, the response headers each cluster's answers carry
// and the mirrors it copies to. It models what a gateway's route table decides and nothing of
// what Envoy does afterwards (endpoints, retries, filters).
//
// Anything in a route that would change the decision and is not modelled here (a query
// parameter match, a runtime fraction, a cluster named by a header, ...) is an error rather than
// a guess: a silent "match" there would prove nothing.
package envoyroute

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// Request is what route matching reads of a request. Header names are matched case-insensitively.
type Request struct {
	Authority string
	Path      string
	Method    string
	Headers   map[string]string
	// TLS: the request came over TLS (a virtual host that requires TLS redirects the others).
	TLS bool
}

// Destination is one cluster of the chosen route, with its share and the headers Envoy adds to
// (or removes from) the answers it gives.
type Destination struct {
	Cluster         string
	Weight          uint32
	ResponseHeaders []HeaderOp
}

// HeaderOp is one header mutation, in the order Envoy applies them.
type HeaderOp struct {
	Name   string
	Value  string
	Append bool // true: add another line; false: replace the header's value
	Remove bool // true: the header is removed (Value unused)
	// OnlyIfAbsent: add only when the header is not there yet (ADD_IF_ABSENT);
	// OnlyIfPresent: overwrite only when it is (OVERWRITE_IF_EXISTS).
	OnlyIfAbsent, OnlyIfPresent bool
}

// Mirror is one request mirror policy of the chosen route.
type Mirror struct {
	Cluster string
	Percent float64
}

// Result is the decision for one request; Route is nil when no virtual host or route takes it.
type Result struct {
	VirtualHost    string
	Route          *route.Route
	Destinations   []Destination
	Mirrors        []Mirror
	Redirect       *route.RedirectAction
	DirectResponse *route.DirectResponseAction
	// TLSRedirect: the virtual host requires TLS and the request had none; Envoy answers 301 to
	// the https URL before any route is looked at (how Istio implements httpsRedirect).
	TLSRedirect bool
}

// Evaluate routes req through rc as Envoy's router would.
func Evaluate(rc *route.RouteConfiguration, req Request) (Result, error) {
	headers := requestHeaders(req)
	vh := SelectVirtualHost(rc.GetVirtualHosts(), req.Authority)
	if vh == nil {
		return Result{}, nil
	}
	// EXTERNAL_ONLY spares requests from inside the mesh; a gateway's come from outside.
	if vh.GetRequireTls() != route.VirtualHost_NONE && !req.TLS {
		return Result{VirtualHost: vh.GetName(), TLSRedirect: true}, nil
	}
	for _, r := range vh.GetRoutes() {
		ok, err := matches(r.GetMatch(), headers, req.Path)
		if err != nil {
			return Result{}, fmt.Errorf("virtual host %s, route %q: %w", vh.GetName(), r.GetName(), err)
		}
		if !ok {
			continue
		}
		res, err := decide(rc, vh, r)
		if err != nil {
			return Result{}, fmt.Errorf("virtual host %s, route %q: %w", vh.GetName(), r.GetName(), err)
		}
		return res, nil
	}
	return Result{VirtualHost: vh.GetName()}, nil
}

func requestHeaders(req Request) map[string]string {
	headers := make(map[string]string, len(req.Headers)+3)
	for name, value := range req.Headers {
		headers[strings.ToLower(name)] = value
	}
	method := req.Method
	if method == "" {
		method = "GET"
	}
	headers[":authority"] = req.Authority
	headers[":path"] = req.Path
	headers[":method"] = method
	return headers
}

// SelectVirtualHost picks the virtual host for an authority by Envoy's order: an exact domain,
// then the longest suffix wildcard (`*.example.com`), then the longest prefix wildcard
// (`example.*`, also how `host:*` takes any port), then `*`. A wildcard stands for at least one
// character. Domains compare case-insensitively.
func SelectVirtualHost(hosts []*route.VirtualHost, authority string) *route.VirtualHost {
	host := strings.ToLower(authority)
	var suffix, prefix, any *route.VirtualHost
	suffixLen, prefixLen := -1, -1
	for _, vh := range hosts {
		for _, d := range vh.GetDomains() {
			d = strings.ToLower(d)
			switch {
			case d == "*":
				if any == nil {
					any = vh
				}
			case d == host:
				return vh
			case strings.HasPrefix(d, "*"):
				rest := d[1:]
				if len(host) > len(rest) && strings.HasSuffix(host, rest) && len(rest) > suffixLen {
					suffix, suffixLen = vh, len(rest)
				}
			case strings.HasSuffix(d, "*"):
				rest := d[:len(d)-1]
				if len(host) > len(rest) && strings.HasPrefix(host, rest) && len(rest) > prefixLen {
					prefix, prefixLen = vh, len(rest)
				}
			}
		}
	}
	switch {
	case suffix != nil:
		return suffix
	case prefix != nil:
		return prefix
	default:
		return any
	}
}

func matches(m *route.RouteMatch, headers map[string]string, path string) (bool, error) {
	if m == nil {
		return false, fmt.Errorf("a route without a match")
	}
	if len(m.GetQueryParameters()) > 0 || m.GetRuntimeFraction() != nil || m.GetGrpc() != nil ||
		m.GetTlsContext() != nil || len(m.GetDynamicMetadata()) > 0 || len(m.GetFilterState()) > 0 ||
		len(m.GetCookies()) > 0 {
		return false, fmt.Errorf("a match on more than path and headers is not modelled: %v", m)
	}
	ok, err := pathMatches(m, path)
	if err != nil || !ok {
		return false, err
	}
	for _, h := range m.GetHeaders() {
		ok, err := headerMatches(h, headers)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// pathMatches: a prefix compares with the whole :path (query included), as Envoy's does; an
// exact path and a regex compare with the path once the query string is removed.
func pathMatches(m *route.RouteMatch, path string) (bool, error) {
	caseSensitive := m.GetCaseSensitive() == nil || m.GetCaseSensitive().GetValue()
	fold := func(s string) string {
		if caseSensitive {
			return s
		}
		return strings.ToLower(s)
	}
	bare, _, _ := strings.Cut(path, "?")
	switch spec := m.GetPathSpecifier().(type) {
	case *route.RouteMatch_Prefix:
		return strings.HasPrefix(fold(path), fold(spec.Prefix)), nil
	case *route.RouteMatch_Path:
		return fold(bare) == fold(spec.Path), nil
	case *route.RouteMatch_PathSeparatedPrefix:
		p := fold(spec.PathSeparatedPrefix)
		b := fold(bare)
		return b == p || strings.HasPrefix(b, p+"/"), nil
	case *route.RouteMatch_SafeRegex:
		return regexFullMatch(spec.SafeRegex, bare)
	default:
		return false, fmt.Errorf("path specifier %T is not modelled", spec)
	}
}

// headerMatches follows Envoy's HeaderMatcher: a missing header matches nothing (inverted or
// not) unless treat_missing_header_as_empty makes it the empty value; present_match compares
// presence itself, so inverting it flips presence.
func headerMatches(h *route.HeaderMatcher, headers map[string]string) (bool, error) {
	value, present := headers[strings.ToLower(h.GetName())]
	if spec, ok := h.GetHeaderMatchSpecifier().(*route.HeaderMatcher_PresentMatch); ok {
		return (present == spec.PresentMatch) != h.GetInvertMatch(), nil
	}
	if h.GetHeaderMatchSpecifier() == nil {
		// No specifier: Envoy matches on presence alone.
		return present != h.GetInvertMatch(), nil
	}
	if !present {
		if !h.GetTreatMissingHeaderAsEmpty() {
			return false, nil
		}
		value = ""
	}
	var ok bool
	var err error
	switch spec := h.GetHeaderMatchSpecifier().(type) {
	case *route.HeaderMatcher_ExactMatch:
		ok = value == spec.ExactMatch
	case *route.HeaderMatcher_PrefixMatch:
		ok = strings.HasPrefix(value, spec.PrefixMatch)
	case *route.HeaderMatcher_SuffixMatch:
		ok = strings.HasSuffix(value, spec.SuffixMatch)
	case *route.HeaderMatcher_ContainsMatch:
		ok = strings.Contains(value, spec.ContainsMatch)
	case *route.HeaderMatcher_SafeRegexMatch:
		ok, err = regexFullMatch(spec.SafeRegexMatch, value)
	case *route.HeaderMatcher_RangeMatch:
		ok, err = inRange(spec.RangeMatch, value)
	case *route.HeaderMatcher_StringMatch:
		ok, err = stringMatches(spec.StringMatch, value)
	default:
		return false, fmt.Errorf("header matcher %T is not modelled", spec)
	}
	if err != nil {
		return false, fmt.Errorf("header %s: %w", h.GetName(), err)
	}
	return ok != h.GetInvertMatch(), nil
}

func stringMatches(m *matcher.StringMatcher, value string) (bool, error) {
	fold := func(s string) string {
		if m.GetIgnoreCase() {
			return strings.ToLower(s)
		}
		return s
	}
	switch spec := m.GetMatchPattern().(type) {
	case *matcher.StringMatcher_Exact:
		return fold(value) == fold(spec.Exact), nil
	case *matcher.StringMatcher_Prefix:
		return strings.HasPrefix(fold(value), fold(spec.Prefix)), nil
	case *matcher.StringMatcher_Suffix:
		return strings.HasSuffix(fold(value), fold(spec.Suffix)), nil
	case *matcher.StringMatcher_Contains:
		return strings.Contains(fold(value), fold(spec.Contains)), nil
	case *matcher.StringMatcher_SafeRegex:
		// ignore_case does not apply to a regex (Envoy's documentation says so).
		return regexFullMatch(spec.SafeRegex, value)
	default:
		return false, fmt.Errorf("string matcher %T is not modelled", spec)
	}
}

// regexFullMatch: Envoy's safe_regex is RE2 and must match the whole value. Go's regexp is RE2
// too; anchoring the pattern makes it a full match.
func regexFullMatch(m *matcher.RegexMatcher, value string) (bool, error) {
	re, err := regexp.Compile(`^(?:` + m.GetRegex() + `)$`)
	if err != nil {
		return false, fmt.Errorf("regex %q does not compile: %w", m.GetRegex(), err)
	}
	return re.MatchString(value), nil
}

func inRange(r *typev3.Int64Range, value string) (bool, error) {
	var n int64
	if _, err := fmt.Sscan(value, &n); err != nil {
		return false, nil //nolint:nilerr // a value that is not a number is outside every range
	}
	return n >= r.GetStart() && n < r.GetEnd(), nil
}

func decide(rc *route.RouteConfiguration, vh *route.VirtualHost, r *route.Route) (Result, error) {
	res := Result{VirtualHost: vh.GetName(), Route: r}
	// Envoy applies the most specific level first and the route configuration's last.
	outer := append(append(append([]HeaderOp{}, ops(r.GetResponseHeadersToRemove(), r.GetResponseHeadersToAdd())...),
		ops(vh.GetResponseHeadersToRemove(), vh.GetResponseHeadersToAdd())...),
		ops(rc.GetResponseHeadersToRemove(), rc.GetResponseHeadersToAdd())...)
	switch action := r.GetAction().(type) {
	case *route.Route_Redirect:
		res.Redirect = action.Redirect
		return res, nil
	case *route.Route_DirectResponse:
		res.DirectResponse = action.DirectResponse
		return res, nil
	case *route.Route_Route:
		ra := action.Route
		switch cs := ra.GetClusterSpecifier().(type) {
		case *route.RouteAction_Cluster:
			res.Destinations = []Destination{{Cluster: cs.Cluster, Weight: 1, ResponseHeaders: outer}}
		case *route.RouteAction_WeightedClusters:
			for _, c := range cs.WeightedClusters.GetClusters() {
				if c.GetClusterHeader() != "" {
					return Result{}, fmt.Errorf("a weighted cluster named by a header is not modelled")
				}
				own := ops(c.GetResponseHeadersToRemove(), c.GetResponseHeadersToAdd())
				res.Destinations = append(res.Destinations, Destination{
					Cluster:         c.GetName(),
					Weight:          c.GetWeight().GetValue(),
					ResponseHeaders: append(own, outer...),
				})
			}
		default:
			return Result{}, fmt.Errorf("cluster specifier %T is not modelled", cs)
		}
		for _, m := range ra.GetRequestMirrorPolicies() {
			if m.GetClusterHeader() != "" {
				return Result{}, fmt.Errorf("a mirror named by a header is not modelled")
			}
			res.Mirrors = append(res.Mirrors, Mirror{Cluster: m.GetCluster(), Percent: percent(m.GetRuntimeFraction())})
		}
		return res, nil
	default:
		return Result{}, fmt.Errorf("route action %T is not modelled", action)
	}
}

// percent: a mirror with no runtime fraction copies every request.
func percent(f *core.RuntimeFractionalPercent) float64 {
	if f == nil || f.GetDefaultValue() == nil {
		return 100
	}
	v := f.GetDefaultValue()
	switch v.GetDenominator() {
	case typev3.FractionalPercent_TEN_THOUSAND:
		return float64(v.GetNumerator()) / 100
	case typev3.FractionalPercent_MILLION:
		return float64(v.GetNumerator()) / 10000
	default:
		return float64(v.GetNumerator())
	}
}

// ops turns one level's removals and additions into mutations, removals first.
func ops(remove []string, add []*core.HeaderValueOption) []HeaderOp {
	out := make([]HeaderOp, 0, len(remove)+len(add))
	for _, name := range remove {
		out = append(out, HeaderOp{Name: strings.ToLower(name), Remove: true})
	}
	for _, o := range add {
		value := o.GetHeader().GetValue()
		if value == "" && len(o.GetHeader().GetRawValue()) > 0 {
			value = string(o.GetHeader().GetRawValue())
		}
		op := HeaderOp{Name: strings.ToLower(o.GetHeader().GetKey()), Value: value}
		if o.GetAppend() != nil {
			// The deprecated flag, when set, decides: true appends, false overwrites.
			op.Append = o.GetAppend().GetValue()
		} else {
			switch o.GetAppendAction() {
			case core.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
				op.Append = true
			case core.HeaderValueOption_ADD_IF_ABSENT:
				op.Append, op.OnlyIfAbsent = true, true
			case core.HeaderValueOption_OVERWRITE_IF_EXISTS:
				op.OnlyIfPresent = true
			}
		}
		out = append(out, op)
	}
	return out
}

// Header is one response header line.
type Header struct {
	Name, Value string
}

// Apply runs mutations over an answer's headers (one line each, in order) as Envoy would.
func Apply(answer []Header, mutations []HeaderOp) []Header {
	out := append([]Header{}, answer...)
	has := func(name string) bool {
		for _, h := range out {
			if h.Name == name {
				return true
			}
		}
		return false
	}
	without := func(name string) []Header {
		kept := out[:0:0]
		for _, h := range out {
			if h.Name != name {
				kept = append(kept, h)
			}
		}
		return kept
	}
	for _, op := range mutations {
		name := strings.ToLower(op.Name)
		switch {
		case op.Remove:
			out = without(name)
		case op.OnlyIfAbsent:
			if !has(name) {
				out = append(out, Header{name, op.Value})
			}
		case op.OnlyIfPresent:
			if has(name) {
				out = append(without(name), Header{name, op.Value})
			}
		case op.Append:
			out = append(out, Header{name, op.Value})
		default:
			out = append(without(name), Header{name, op.Value})
		}
	}
	return out
}

// SortedClusters lists a result's cluster names, for messages.
func (r Result) SortedClusters() []string {
	names := make([]string, 0, len(r.Destinations))
	for _, d := range r.Destinations {
		names = append(names, d.Cluster)
	}
	sort.Strings(names)
	return names
}
