// Command istio-route answers, for requests read one JSON object a line on stdin, where the
// gateway Istio would program from a folder of manifests sends each of them: the manifests go
// through istiod's own translation (see translate.go) and the request through Envoy's route
// matching over the result (package envoyroute).
//
//	istio-route [--crds FILE ...] MANIFEST_DIR
//	stdin:  {"host": "app.example.com", "path": "/", "headers": {"cookie": "a=1; version=v2"}}
//	stdout: {"route": "canary-testers", "destinations": {"v2": 100}, "mirror": {},
//	         "responseHeaders": {"x-canary-version": "v2"}, ...}
//
// --crds names CustomResourceDefinitions whose schema defaults are written into the manifests
// first, as the API server stores them (see defaults.go).
//
// A line {"load": DIR} translates another folder and routes by it from then on (answer:
// {"loaded": DIR, "objects": N}); {"tables": true} lists every gateway's route tables. A bad line gets {"error": "..."} and the next line is read.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"istio.io/istio/pkg/log"

	"istio-canary.local/istio-route/envoyroute"
)

// request is one input line. scheme (default http) picks the listener port (80, or 443 for
// https) unless port names it; answer is the header lines the upstream answers with, which the
// route's header mutations apply to (default none).
type request struct {
	Load    string            `json:"load"`
	Tables  bool              `json:"tables"`
	Host    string            `json:"host"`
	Path    string            `json:"path"`
	Method  string            `json:"method"`
	Scheme  string            `json:"scheme"`
	Port    int               `json:"port"`
	Headers map[string]string `json:"headers"`
	Answer  [][2]string       `json:"answer"`
}

// answer is one output line. destinations and mirror map a version to its percent; headers
// are the lines an answer from each version carries, responseHeaders those every version's
// answers carry alike.
type answer struct {
	Route              *string                `json:"route"`
	Gateway            string                 `json:"gateway,omitempty"`
	VirtualHost        string                 `json:"virtualHost,omitempty"`
	Destinations       map[string]float64     `json:"destinations"`
	Mirror             map[string]float64     `json:"mirror"`
	ResponseHeaders    map[string]string      `json:"responseHeaders"`
	DestinationHeaders map[string][][2]string `json:"destinationHeaders"`
	Clusters           map[string]float64     `json:"clusters"`
	Redirect           map[string]any         `json:"redirect,omitempty"`
	DirectResponse     uint32                 `json:"directResponse,omitempty"`
	// Timeout and Retry are the route's own, as istiod wrote them into the Envoy route: the
	// request timeout ("0s": none) and the retry policy (retryOn, numRetries, perTryTimeout,
	// retriableStatusCodes), durations as Go prints them ("1m30s", "500ms").
	Timeout string         `json:"timeout,omitempty"`
	Retry   map[string]any `json:"retry,omitempty"`
}

const usage = "usage: istio-route [--crds FILE ...] MANIFEST_DIR  (requests on stdin, one JSON object a line)"

func main() {
	args := os.Args[1:]
	var crdFiles []string
	for len(args) >= 2 && args[0] == "--crds" {
		crdFiles = append(crdFiles, args[1])
		args = args[2:]
	}
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	crds, err := loadCRDs(crdFiles)
	if err != nil {
		fmt.Fprintf(os.Stderr, "istio-route: --crds: %v\n", err)
		os.Exit(2)
	}
	quietIstio()
	t := newFailer()
	mesh, err := load(args[0], crds, t)
	if err != nil {
		fmt.Fprintf(os.Stderr, "istio-route: %v\n", err)
		os.Exit(1)
	}
	serve(os.Stdin, os.Stdout, mesh, crds, t)
	t.cleanup()
}

// quietIstio keeps istiod's logs off stderr (ISTIO_ROUTE_LOG=1 keeps them).
func quietIstio() {
	if os.Getenv("ISTIO_ROUTE_LOG") == "1" {
		return
	}
	o := log.DefaultOptions()
	o.OutputPaths = []string{"/dev/null"}
	o.ErrorOutputPaths = []string{"/dev/null"}
	_ = log.Configure(o)
}

// load translates dir, turning a failure inside istiod's test harness into an error.
func load(dir string, crds schemas, t *failer) (mesh *Mesh, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failure)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("istiod could not take the manifests of %s: %s", dir, f.message)
		}
	}()
	return Translate(dir, crds, t)
}

func serve(in io.Reader, out io.Writer, mesh *Mesh, crds schemas, t *failer) {
	scanner := bufio.NewScanner(in)
	scanner.Buffer(make([]byte, 1<<20), 1<<24)
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" {
			continue
		}
		var req request
		var reply any
		if err := json.Unmarshal([]byte(line), &req); err != nil {
			reply = map[string]string{"error": "not a JSON request: " + err.Error()}
		} else if req.Load != "" {
			// The previous server's goroutines stop before the next one starts.
			t.cleanup()
			next, err := load(req.Load, crds, t)
			if err != nil {
				reply = map[string]string{"error": err.Error()}
			} else {
				mesh = next
				reply = map[string]any{"loaded": req.Load, "objects": next.objects}
			}
		} else if mesh == nil {
			reply = map[string]string{"error": "no manifests loaded"}
		} else if req.Tables {
			reply = mesh.Tables()
		} else if a, err := mesh.Answer(req); err != nil {
			reply = map[string]string{"error": err.Error()}
		} else {
			reply = a
		}
		_ = enc.Encode(reply)
		_ = w.Flush()
	}
}

// Answer routes one request.
func (m *Mesh) Answer(req request) (*answer, error) {
	if req.Host == "" {
		return nil, fmt.Errorf("request has no host")
	}
	if req.Path == "" {
		req.Path = "/"
	}
	port := req.Port
	if port == 0 {
		switch req.Scheme {
		case "", "http":
			port = 80
		case "https":
			port = 443
		default:
			return nil, fmt.Errorf("scheme must be http or https, got %q", req.Scheme)
		}
	}
	a := &answer{
		Destinations: map[string]float64{}, Mirror: map[string]float64{}, ResponseHeaders: map[string]string{},
		DestinationHeaders: map[string][][2]string{}, Clusters: map[string]float64{},
	}
	er := envoyroute.Request{Authority: req.Host, Path: req.Path, Method: req.Method, Headers: req.Headers, TLS: req.Scheme == "https"}
	for _, gw := range m.Gateways {
		for _, rc := range gw.Routes {
			if !servesPort(rc.GetName(), port) || envoyroute.SelectVirtualHost(rc.GetVirtualHosts(), req.Host) == nil {
				continue
			}
			res, err := envoyroute.Evaluate(rc, er)
			if err != nil {
				return nil, fmt.Errorf("%s, route table %s: %w", gw.Name, rc.GetName(), err)
			}
			a.Gateway, a.VirtualHost = gw.Name, res.VirtualHost
			if res.TLSRedirect {
				// Envoy's own answer, named after the virtual host's require_tls: no route is involved.
				name := "require_tls"
				a.Route = &name
				a.Redirect = map[string]any{"scheme": "https", "code": "MOVED_PERMANENTLY"}
				return a, nil
			}
			if res.Route == nil {
				return a, nil
			}
			m.fill(a, res, req.Answer)
			return a, nil
		}
	}
	return a, nil
}

// Tables lists, per gateway, its route tables and each one's virtual hosts with their domains:
// what a request could be matched against (a line {"tables": true}).
func (m *Mesh) Tables() map[string]map[string]map[string][]string {
	out := map[string]map[string]map[string][]string{}
	for _, gw := range m.Gateways {
		tables := map[string]map[string][]string{}
		for _, rc := range gw.Routes {
			hosts := map[string][]string{}
			for _, vh := range rc.GetVirtualHosts() {
				hosts[vh.GetName()] = vh.GetDomains()
			}
			tables[rc.GetName()] = hosts
		}
		out[gw.Name] = tables
	}
	return out
}

// servesPort: istiod names a gateway's route table for plain HTTP `http.<port>` and one for
// each TLS server `https.<port>.<server>...`.
func servesPort(name string, port int) bool {
	return name == fmt.Sprintf("http.%d", port) || strings.HasPrefix(name, fmt.Sprintf("https.%d.", port))
}

func (m *Mesh) fill(a *answer, res envoyroute.Result, upstream [][2]string) {
	name := res.Route.GetName()
	a.Route = &name
	if action := res.Route.GetRoute(); action != nil {
		if t := action.GetTimeout(); t != nil {
			a.Timeout = t.AsDuration().String()
		}
		if p := action.GetRetryPolicy(); p != nil {
			retry := map[string]any{"retryOn": p.GetRetryOn(), "numRetries": p.GetNumRetries().GetValue()}
			if t := p.GetPerTryTimeout(); t != nil {
				retry["perTryTimeout"] = t.AsDuration().String()
			}
			// Status codes in Istio's retryOn become retriable-status-codes and this list.
			if codes := p.GetRetriableStatusCodes(); len(codes) > 0 {
				retry["retriableStatusCodes"] = codes
			}
			a.Retry = retry
		}
	}
	if r := res.Redirect; r != nil {
		a.Redirect = map[string]any{"scheme": r.GetSchemeRedirect(), "host": r.GetHostRedirect(),
			"port": r.GetPortRedirect(), "path": r.GetPathRedirect(), "code": r.GetResponseCode().String()}
	}
	if d := res.DirectResponse; d != nil {
		a.DirectResponse = d.GetStatus()
	}
	var total float64
	for _, d := range res.Destinations {
		total += float64(d.Weight)
	}
	base := make([]envoyroute.Header, 0, len(upstream))
	for _, h := range upstream {
		base = append(base, envoyroute.Header{Name: strings.ToLower(h[0]), Value: h[1]})
	}
	var common map[string]string
	for _, d := range res.Destinations {
		if d.Weight == 0 {
			continue // a cluster at weight 0 gets no request
		}
		share := float64(d.Weight) * 100 / total
		version := m.version(d.Cluster)
		a.Destinations[version] += share
		a.Clusters[d.Cluster] += share
		lines := envoyroute.Apply(base, d.ResponseHeaders)
		pairs := make([][2]string, 0, len(lines))
		for _, h := range lines {
			pairs = append(pairs, [2]string{h.Name, h.Value})
		}
		a.DestinationHeaders[version] = pairs
		common = intersect(common, lines)
	}
	for k, v := range common {
		a.ResponseHeaders[k] = v
	}
	for _, mirror := range res.Mirrors {
		a.Mirror[m.version(mirror.Cluster)] += mirror.Percent
	}
}

// intersect keeps the single-line headers both sides carry with the same value; nil is "all".
func intersect(common map[string]string, lines []envoyroute.Header) map[string]string {
	count := map[string]int{}
	mine := map[string]string{}
	for _, h := range lines {
		count[h.Name]++
		mine[h.Name] = h.Value
	}
	out := map[string]string{}
	for name, value := range mine {
		if count[name] != 1 {
			continue
		}
		if common == nil || common[name] == value {
			if _, ok := common[name]; ok || common == nil {
				out[name] = value
			}
		}
	}
	return out
}

// version names a cluster `outbound|<port>|<subset>|<host>` by its subset, else by the version
// its Service selects; anything else by its own name.
func (m *Mesh) version(cluster string) string {
	parts := strings.Split(cluster, "|")
	if len(parts) != 4 {
		return cluster
	}
	if parts[2] != "" {
		return parts[2]
	}
	if v, ok := m.versionOf[parts[3]]; ok {
		return v
	}
	return parts[3]
}
