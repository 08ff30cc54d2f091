package envoyroute

import (
	"reflect"
	"testing"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

// config parses a hand-written RouteConfiguration in Envoy's own JSON form.
func config(t *testing.T, js string) *route.RouteConfiguration {
	t.Helper()
	rc := &route.RouteConfiguration{}
	if err := protojson.Unmarshal([]byte(js), rc); err != nil {
		t.Fatalf("bad test config: %v", err)
	}
	return rc
}

func evaluate(t *testing.T, rc *route.RouteConfiguration, req Request) Result {
	t.Helper()
	res, err := Evaluate(rc, req)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return res
}

func routeName(r Result) string {
	if r.Route == nil {
		return ""
	}
	return r.Route.GetName()
}

// The regex a gateway receives for a cookie match, as Istio writes one.
const cookieRoutes = `{
  "name": "http.80",
  "virtualHosts": [{
    "name": "app.example.com:80",
    "domains": ["app.example.com", "app.example.com:*"],
    "routes": [
      {"name": "canary-testers",
       "match": {"prefix": "/", "headers": [{"name": "cookie",
         "stringMatch": {"safeRegex": {"regex": "^(.*;)?[ \\t]*version[ \\t]*=[ \\t]*v2[ \\t]*(;.*)?$"}}}]},
       "route": {"cluster": "outbound|80|v2|app.ns.svc.cluster.local"},
       "responseHeadersToAdd": [{"header": {"key": "x-canary-version", "value": "v2"},
                                 "appendAction": "OVERWRITE_IF_EXISTS_OR_ADD"}]},
      {"name": "seed",
       "match": {"prefix": "/", "headers": [{"name": "cookie",
         "stringMatch": {"safeRegex": {"regex": "^version=v2.*"}}}]},
       "route": {"cluster": "outbound|80|v3|app.ns.svc.cluster.local"}},
      {"name": "default",
       "match": {"prefix": "/"},
       "route": {"weightedClusters": {"clusters": [
         {"name": "outbound|80|v1|app.ns.svc.cluster.local", "weight": 90,
          "responseHeadersToAdd": [{"header": {"key": "x-canary-version", "value": "v1"},
                                    "appendAction": "OVERWRITE_IF_EXISTS_OR_ADD"}]},
         {"name": "outbound|80|v2|app.ns.svc.cluster.local", "weight": 10,
          "responseHeadersToAdd": [{"header": {"key": "x-canary-version", "value": "v2"},
                                    "appendAction": "OVERWRITE_IF_EXISTS_OR_ADD"},
                                   {"header": {"key": "set-cookie", "value": "pin=v2; Path=/"},
                                    "appendAction": "APPEND_IF_EXISTS_OR_ADD"}]}]},
         "requestMirrorPolicies": [{"cluster": "outbound|80|v3|app.ns.svc.cluster.local",
           "runtimeFraction": {"defaultValue": {"numerator": 250, "denominator": "TEN_THOUSAND"}}}]}}
    ]
  }]
}`

func TestRegexMatchesTheWholeCookieHeaderWhereverTheCookieIs(t *testing.T) {
	rc := config(t, cookieRoutes)
	for _, cookie := range []string{"version=v2", "a=1; version=v2", "a=1; version=v2; b=2", "version = v2"} {
		got := routeName(evaluate(t, rc, Request{Authority: "app.example.com", Path: "/", Headers: map[string]string{"Cookie": cookie}}))
		if got != "canary-testers" {
			t.Errorf("cookie %q: route %q, want canary-testers", cookie, got)
		}
	}
}

func TestRegexMustMatchTheWholeValueNotASubstring(t *testing.T) {
	rc := config(t, cookieRoutes)
	for _, cookie := range []string{"myversion=v2", "version=v22", "a=1; xversion=v2"} {
		got := routeName(evaluate(t, rc, Request{Authority: "app.example.com", Path: "/", Headers: map[string]string{"cookie": cookie}}))
		if got == "canary-testers" {
			t.Errorf("cookie %q took canary-testers", cookie)
		}
	}
}

func TestRoutesAreTriedInOrder(t *testing.T) {
	// "version=v2" matches both the first route and the seed-style second one: the first wins.
	rc := config(t, cookieRoutes)
	got := routeName(evaluate(t, rc, Request{Authority: "app.example.com", Path: "/", Headers: map[string]string{"cookie": "version=v2"}}))
	if got != "canary-testers" {
		t.Fatalf("route %q, want canary-testers", got)
	}
	// "version=v22" fails the first (whole cookie) but fits the seed's prefix regex.
	got = routeName(evaluate(t, rc, Request{Authority: "app.example.com", Path: "/", Headers: map[string]string{"cookie": "version=v22"}}))
	if got != "seed" {
		t.Fatalf("route %q, want seed", got)
	}
}

func TestAbsentHeaderFailsAValueMatch(t *testing.T) {
	rc := config(t, cookieRoutes)
	got := routeName(evaluate(t, rc, Request{Authority: "app.example.com", Path: "/"}))
	if got != "default" {
		t.Fatalf("route %q, want default", got)
	}
}

func TestWeightedClustersCarryTheirOwnHeadersAndTheMirror(t *testing.T) {
	rc := config(t, cookieRoutes)
	res := evaluate(t, rc, Request{Authority: "APP.example.com", Path: "/x"})
	want := []Destination{
		{Cluster: "outbound|80|v1|app.ns.svc.cluster.local", Weight: 90,
			ResponseHeaders: []HeaderOp{{Name: "x-canary-version", Value: "v1"}}},
		{Cluster: "outbound|80|v2|app.ns.svc.cluster.local", Weight: 10,
			ResponseHeaders: []HeaderOp{{Name: "x-canary-version", Value: "v2"}, {Name: "set-cookie", Value: "pin=v2; Path=/", Append: true}}},
	}
	if !reflect.DeepEqual(res.Destinations, want) {
		t.Fatalf("destinations %+v, want %+v", res.Destinations, want)
	}
	if !reflect.DeepEqual(res.Mirrors, []Mirror{{Cluster: "outbound|80|v3|app.ns.svc.cluster.local", Percent: 2.5}}) {
		t.Fatalf("mirrors %+v", res.Mirrors)
	}
}

func TestSingleClusterCarriesTheRouteHeaders(t *testing.T) {
	rc := config(t, cookieRoutes)
	res := evaluate(t, rc, Request{Authority: "app.example.com:8080", Path: "/", Headers: map[string]string{"cookie": "version=v2"}})
	want := []Destination{{Cluster: "outbound|80|v2|app.ns.svc.cluster.local", Weight: 1,
		ResponseHeaders: []HeaderOp{{Name: "x-canary-version", Value: "v2"}}}}
	if !reflect.DeepEqual(res.Destinations, want) {
		t.Fatalf("destinations %+v, want %+v", res.Destinations, want)
	}
}

func TestUnknownAuthorityHasNoRoute(t *testing.T) {
	rc := config(t, cookieRoutes)
	res := evaluate(t, rc, Request{Authority: "other.example.com", Path: "/"})
	if res.Route != nil || res.VirtualHost != "" {
		t.Fatalf("got %+v, want no virtual host", res)
	}
}

func TestVirtualHostOrderExactThenSuffixThenPrefixThenAny(t *testing.T) {
	rc := config(t, `{"virtualHosts": [
	  {"name": "any", "domains": ["*"]},
	  {"name": "prefix", "domains": ["api.*"]},
	  {"name": "short-suffix", "domains": ["*.com"]},
	  {"name": "suffix", "domains": ["*.example.com"]},
	  {"name": "org-suffix", "domains": ["*.org"]},
	  {"name": "exact", "domains": ["api.example.com"]}]}`)
	cases := map[string]string{
		"api.example.com": "exact",
		"www.example.com": "suffix",
		"api.example.org": "org-suffix", // a suffix wildcard wins over a prefix one
		"api.internal":    "prefix",
		"www.other.com":   "short-suffix",
		"elsewhere":       "any",
		// A wildcard stands for one character at least.
		".example.com": "short-suffix",
	}
	for authority, want := range cases {
		if got := SelectVirtualHost(rc.GetVirtualHosts(), authority).GetName(); got != want {
			t.Errorf("%s: %s, want %s", authority, got, want)
		}
	}
}

func TestHeaderMatchers(t *testing.T) {
	rc := config(t, `{"virtualHosts": [{"name": "h", "domains": ["*"], "routes": [
	  {"name": "api-prefix", "match": {"prefix": "/api/"}, "directResponse": {"status": 200}},
	  {"name": "present", "match": {"prefix": "/", "headers": [{"name": "x-present", "presentMatch": true}]}, "directResponse": {"status": 200}},
	  {"name": "exact", "match": {"prefix": "/", "headers": [{"name": "x-exact", "stringMatch": {"exact": "Yes"}}]}, "directResponse": {"status": 200}},
	  {"name": "exact-nocase", "match": {"prefix": "/", "headers": [{"name": "x-nocase", "stringMatch": {"exact": "yes", "ignoreCase": true}}]}, "directResponse": {"status": 200}},
	  {"name": "prefix", "match": {"prefix": "/", "headers": [{"name": "x-prefix", "stringMatch": {"prefix": "ab"}}]}, "directResponse": {"status": 200}},
	  {"name": "inverted", "match": {"prefix": "/", "headers": [{"name": "x-inv", "stringMatch": {"exact": "no"}, "invertMatch": true}]}, "directResponse": {"status": 200}},
	  {"name": "both", "match": {"prefix": "/both", "headers": [{"name": "a", "stringMatch": {"exact": "1"}}, {"name": "b", "stringMatch": {"exact": "2"}}]}, "directResponse": {"status": 200}},
	  {"name": "exact-path", "match": {"path": "/only"}, "directResponse": {"status": 200}},
	  {"name": "regex-path", "match": {"safeRegex": {"regex": "/r/[0-9]+"}}, "directResponse": {"status": 200}}
	]}]}`)
	cases := []struct {
		path    string
		headers map[string]string
		want    string
	}{
		{"/api/x", nil, "api-prefix"},
		{"/apix", nil, ""},
		{"/", map[string]string{"x-present": ""}, "present"},
		{"/", map[string]string{"x-exact": "Yes"}, "exact"},
		{"/", map[string]string{"x-exact": "yes"}, ""},
		{"/", map[string]string{"x-nocase": "YES"}, "exact-nocase"},
		{"/", map[string]string{"x-prefix": "abc"}, "prefix"},
		{"/", map[string]string{"x-inv": "yes"}, "inverted"},
		{"/", map[string]string{"x-inv": "no"}, ""},
		// A missing header fails an inverted value match too (no treat_missing_header_as_empty).
		{"/", map[string]string{}, ""},
		{"/both", map[string]string{"a": "1", "b": "2"}, "both"},
		{"/both", map[string]string{"a": "1"}, ""},
		{"/only?x=1", nil, "exact-path"},
		{"/only/", nil, ""},
		{"/r/12?q", nil, "regex-path"},
		{"/r/12a", nil, ""},
	}
	for _, c := range cases {
		got := routeName(evaluate(t, rc, Request{Authority: "h", Path: c.path, Headers: c.headers}))
		if got != c.want {
			t.Errorf("%s %v: route %q, want %q", c.path, c.headers, got, c.want)
		}
	}
}

func TestUnmodelledMatchIsAnError(t *testing.T) {
	rc := config(t, `{"virtualHosts": [{"name": "h", "domains": ["*"], "routes": [
	  {"name": "q", "match": {"prefix": "/", "queryParameters": [{"name": "a", "presentMatch": true}]}, "directResponse": {"status": 200}}]}]}`)
	if _, err := Evaluate(rc, Request{Authority: "h", Path: "/"}); err == nil {
		t.Fatal("a query parameter match was evaluated as if it were not there")
	}
}

func TestRedirectIsNoDestination(t *testing.T) {
	rc := config(t, `{"virtualHosts": [{"name": "h", "domains": ["*"], "routes": [
	  {"name": "r", "match": {"prefix": "/"}, "redirect": {"schemeRedirect": "https", "responseCode": "MOVED_PERMANENTLY"}}]}]}`)
	res := evaluate(t, rc, Request{Authority: "h", Path: "/"})
	if res.Redirect == nil || res.Redirect.GetSchemeRedirect() != "https" || len(res.Destinations) != 0 {
		t.Fatalf("got %+v", res)
	}
}

func TestApplyOrderAndActions(t *testing.T) {
	got := Apply([]Header{{"content-type", "text/html"}, {"x-v", "app"}}, []HeaderOp{
		{Name: "x-v", Value: "v1"},                                           // overwrite
		{Name: "set-cookie", Value: "a=1", Append: true},                     // add a line
		{Name: "set-cookie", Value: "b=2", Append: true},                     // and another
		{Name: "x-new", Value: "1", OnlyIfPresent: true},                     // not there: nothing
		{Name: "content-type", Value: "x", OnlyIfAbsent: true, Append: true}, // there: nothing
		{Name: "x-gone", Remove: true},
	})
	want := []Header{{"content-type", "text/html"}, {"x-v", "v1"}, {"set-cookie", "a=1"}, {"set-cookie", "b=2"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestAVirtualHostThatRequiresTLSRedirectsPlainRequests(t *testing.T) {
	rc := config(t, `{"virtualHosts": [{"name": "h", "domains": ["*"], "requireTls": "ALL", "routes": [
	  {"name": "r", "match": {"prefix": "/"}, "route": {"cluster": "c"}}]}]}`)
	plain := evaluate(t, rc, Request{Authority: "h", Path: "/"})
	if !plain.TLSRedirect || plain.Route != nil {
		t.Fatalf("plain request: %+v, want a TLS redirect", plain)
	}
	secure := evaluate(t, rc, Request{Authority: "h", Path: "/", TLS: true})
	if secure.TLSRedirect || routeName(secure) != "r" {
		t.Fatalf("TLS request: %+v, want route r", secure)
	}
}
