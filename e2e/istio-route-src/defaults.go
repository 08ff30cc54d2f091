package main

// The API server writes a CRD's schema defaults into every object it stores (a Gateway API
// HTTPRoute match without a path becomes `PathPrefix /`, a backendRef gets `weight: 1`), and
// istiod only ever reads stored objects: its Gateway API conversion takes those fields as
// present. Manifests as `render` writes them lack them, so the defaults are applied here with the
// API server's own structural defaulting, from the CRDs the local API server installs.

import (
	"fmt"
	"os"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"sigs.k8s.io/yaml"
)

// schemas maps "group/version Kind" to the structural schema of that CRD version.
type schemas map[string]*structuralschema.Structural

func loadCRDs(files []string) (schemas, error) {
	out := schemas{}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		for _, text := range splitDocuments(string(raw)) {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := yaml.Unmarshal([]byte(text), &crd); err != nil {
				return nil, fmt.Errorf("%s: %v", file, err)
			}
			if crd.Kind != "CustomResourceDefinition" {
				continue
			}
			for _, v := range crd.Spec.Versions {
				if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
					continue
				}
				internal := &apiextensionsinternal.JSONSchemaProps{}
				if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
					return nil, fmt.Errorf("%s: %s %s: %v", file, crd.Name, v.Name, err)
				}
				s, err := structuralschema.NewStructural(internal)
				if err != nil {
					return nil, fmt.Errorf("%s: %s %s: %v", file, crd.Name, v.Name, err)
				}
				out[fmt.Sprintf("%s/%s %s", crd.Spec.Group, v.Name, crd.Spec.Names.Kind)] = s
			}
		}
	}
	return out, nil
}

// withDefaults returns the document with its CRD's defaults written in, as the API server
// would store it; a document of no known CRD comes back as it is.
func (s schemas) withDefaults(d document) (string, error) {
	schema, ok := s[d.head.APIVersion+" "+d.head.Kind]
	if !ok {
		return d.text, nil
	}
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(d.text), &obj); err != nil {
		return "", err
	}
	defaulting.Default(obj, schema)
	out, err := yaml.Marshal(obj)
	if err != nil {
		return "", err
	}
	return string(out), nil
}
