package main

// Translation: the manifests go through istiod's own config generation, in process
// (pilot/test/xds's fake discovery server: the real config store, service registry, Gateway API
// controller and route builder), and come out as the RouteConfigurations a gateway proxy would
// receive.

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config"
	kubelib "istio.io/istio/pkg/kube"
)

// istioGroups are the API groups whose objects istiod reads from its config store; every other
// object goes to the (fake) Kubernetes API server, where the service registry and the Gateway
// API controller read theirs.
var istioGroups = map[string]bool{
	"networking.istio.io": true, "security.istio.io": true,
	"telemetry.istio.io": true, "extensions.istio.io": true,
}

const gatewayNameLabel = "gateway.networking.k8s.io/gateway-name"

// Gateway is one gateway proxy: the route tables istiod sends it, by name.
type Gateway struct {
	Name   string // "istio-system/istio-ingressgateway" or "<namespace>/<Gateway API Gateway>"
	Routes []*route.RouteConfiguration
}

// Mesh is what a manifest folder translates to.
type Mesh struct {
	// Gateways in the order requests try them: the Gateway API gateways (by name), then the
	// ingress gateway that `istio: ingressgateway` Gateways select.
	Gateways []Gateway
	// versionOf maps a Service's host to the `version` its selector picks, for clusters that
	// name no subset (the Gateway API routes to one Service per version).
	versionOf map[string]string
	objects   int
}

type document struct {
	file string
	text string
	head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
}

// readManifests reads every *.yaml and *.yml in dir (sorted), one document per `---`.
func readManifests(dir string) ([]document, error) {
	var files []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		found, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, err
		}
		files = append(files, found...)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	sort.Strings(files)
	var docs []document
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		for _, text := range splitDocuments(string(raw)) {
			d := document{file: filepath.Base(file), text: text}
			if err := yaml.Unmarshal([]byte(text), &d.head); err != nil {
				return nil, fmt.Errorf("%s: %v", d.file, err)
			}
			if d.head.Kind == "" {
				continue // an empty document (comments only)
			}
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s holds no manifests (*.yaml, *.yml)", dir)
	}
	return docs, nil
}

func splitDocuments(s string) []string {
	var out []string
	var cur []string
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimRight(line, " \t\r") == "---" {
			out = append(out, strings.Join(cur, "\n"))
			cur = nil
			continue
		}
		cur = append(cur, line)
	}
	return append(out, strings.Join(cur, "\n"))
}

func group(apiVersion string) string {
	if g, _, found := strings.Cut(apiVersion, "/"); found {
		return g
	}
	return ""
}

// Translate runs the manifests in dir through istiod and returns every gateway's route tables.
func Translate(dir string, crds schemas, t *failer) (*Mesh, error) {
	docs, err := readManifests(dir)
	if err != nil {
		return nil, err
	}
	for i := range docs {
		if docs[i].text, err = crds.withDefaults(docs[i]); err != nil {
			return nil, fmt.Errorf("%s: %v", docs[i].file, err)
		}
	}
	var configs []config.Config
	var objects []runtime.Object
	mesh := &Mesh{versionOf: map[string]string{}, objects: len(docs)}
	var gateways []*gatewayv1.Gateway
	decode := kubelib.IstioCodec.UniversalDeserializer().Decode
	now := time.Now()
	for _, d := range docs {
		where := fmt.Sprintf("%s: %s %s", d.file, d.head.Kind, d.head.Metadata.Name)
		if istioGroups[group(d.head.APIVersion)] {
			// ParseInputs validates each object as the admission webhook does: the in-memory
			// store would take an invalid one.
			parsed, _, err := crd.ParseInputs(d.text)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", where, err)
			}
			for _, c := range parsed {
				if c.Namespace == "" {
					c.Namespace = "default"
				}
				// Without a domain, short hosts would not resolve to <name>.<namespace>.svc.cluster.local.
				c.Domain = "cluster.local"
				if c.CreationTimestamp.IsZero() {
					c.CreationTimestamp = now
				}
				configs = append(configs, c)
			}
			continue
		}
		obj, _, err := decode([]byte(d.text), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		switch o := obj.(type) {
		case *corev1.Service:
			if o.Namespace == "" {
				o.Namespace = "default"
			}
			if v := o.Spec.Selector["version"]; v != "" {
				mesh.versionOf[fmt.Sprintf("%s.%s.svc.cluster.local", o.Name, o.Namespace)] = v
			}
		case *gatewayv1.Gateway:
			gateways = append(gateways, o)
		}
		objects = append(objects, obj)
	}
	stand, err := missingCertificates(gateways, objects)
	if err != nil {
		return nil, err
	}
	objects = append(objects, stand...)
	// Istio's deployment controller gives each Gateway API Gateway of its classes a Deployment
	// and a Service; istiod then programs the pods behind that Service. Stand them in.
	var proxies []*model.Proxy
	for i, gw := range gateways {
		svc, pod, proxy := gatewayWorkload(gw, i)
		objects = append(objects, svc, pod)
		proxies = append(proxies, proxy)
	}
	proxies = append(proxies, ingressGatewayProxy())

	s := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{Configs: configs, KubernetesObjects: objects})
	for i, p := range proxies {
		name := "istio-system/istio-ingressgateway"
		if i < len(gateways) {
			name = gateways[i].Namespace + "/" + gateways[i].Name
		}
		mesh.Gateways = append(mesh.Gateways, Gateway{Name: name, Routes: s.Routes(s.SetupProxy(p))})
	}
	return mesh, nil
}

// ingressGatewayProxy is the `istio-ingressgateway` deployment of a default install.
func ingressGatewayProxy() *model.Proxy {
	labels := map[string]string{"istio": "ingressgateway", "app": "istio-ingressgateway"}
	return &model.Proxy{
		Type:            model.Router,
		ID:              "istio-ingressgateway.istio-system",
		ConfigNamespace: "istio-system",
		Labels:          labels,
		Metadata:        &model.NodeMetadata{Labels: labels, Namespace: "istio-system"},
	}
}

// gatewayWorkload: the Service and pod Istio's deployment controller would create for gw
// (`<name>-<class>`, selecting `gateway.networking.k8s.io/gateway-name: <name>`), and the proxy
// of that pod.
func gatewayWorkload(gw *gatewayv1.Gateway, i int) (*corev1.Service, *corev1.Pod, *model.Proxy) {
	name := fmt.Sprintf("%s-%s", gw.Name, gw.Spec.GatewayClassName)
	labels := map[string]string{gatewayNameLabel: gw.Name}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: gw.Namespace, Labels: labels},
		Spec:       corev1.ServiceSpec{Selector: labels, ClusterIP: fmt.Sprintf("10.96.250.%d", i+1)},
	}
	seen := map[int32]bool{}
	for _, l := range gw.Spec.Listeners {
		if seen[int32(l.Port)] {
			continue
		}
		seen[int32(l.Port)] = true
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name:       fmt.Sprintf("%s-%d", strings.ToLower(string(l.Protocol)), l.Port),
			Port:       int32(l.Port),
			TargetPort: intstr.FromInt32(int32(l.Port)),
			Protocol:   corev1.ProtocolTCP,
		})
	}
	ip := fmt.Sprintf("10.244.250.%d", i+1)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-0", Namespace: gw.Namespace, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy"}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	proxy := &model.Proxy{
		Type:            model.Router,
		ID:              pod.Name + "." + pod.Namespace,
		ConfigNamespace: gw.Namespace,
		IPAddresses:     []string{ip},
		Labels:          labels,
		Metadata:        &model.NodeMetadata{Labels: labels, Namespace: gw.Namespace},
	}
	return svc, pod, proxy
}
