// crd-validate checks Kubernetes custom resources against their CustomResourceDefinitions the way
// kube-apiserver does on create, using the apiextensions-apiserver packages of the same release: unknown fields
// (strict field validation), defaulting, the structural OpenAPI schema, list-type rules and the
// x-kubernetes-validations CEL rules.
//
// Usage: crd-validate CRD_FILE... < objects.json
//
// CRD_FILE is YAML with any number of documents (non-CRD documents are skipped); stdin is a JSON array of
// objects. stdout is a JSON array with one entry per object: {apiVersion, kind, name, namespace, errors}. The
// exit status is 0 when every object could be checked (valid or not) and 2 on unusable input.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// versionSchema is one served version of a CRD, ready to validate with.
type versionSchema struct {
	namespaced bool
	internal   *apiextensionsinternal.JSONSchemaProps
	structural *structuralschema.Structural
}

type result struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Name       string   `json:"name"`
	Namespace  string   `json:"namespace,omitempty"`
	Errors     []string `json:"errors"`
}

func loadCRDs(files []string) (map[schema.GroupVersionKind]versionSchema, error) {
	schemas := map[schema.GroupVersionKind]versionSchema{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			var crd apiextensionsv1.CustomResourceDefinition
			if err := yaml.Unmarshal(doc, &crd); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if crd.Kind != "CustomResourceDefinition" {
				continue
			}
			for _, v := range crd.Spec.Versions {
				if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
					continue
				}
				internal := &apiextensionsinternal.JSONSchemaProps{}
				if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
					return nil, fmt.Errorf("%s %s: %w", crd.Name, v.Name, err)
				}
				structural, err := structuralschema.NewStructural(internal)
				if err != nil {
					return nil, fmt.Errorf("%s %s: not a structural schema: %w", crd.Name, v.Name, err)
				}
				gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
				schemas[gvk] = versionSchema{namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped, internal: internal, structural: structural}
			}
		}
	}
	return schemas, nil
}

func check(schemas map[schema.GroupVersionKind]versionSchema, obj map[string]interface{}) result {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	metadata, _ := obj["metadata"].(map[string]interface{})
	name, _ := metadata["name"].(string)
	namespace, _ := metadata["namespace"].(string)
	r := result{APIVersion: apiVersion, Kind: kind, Name: name, Namespace: namespace, Errors: []string{}}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		r.Errors = append(r.Errors, err.Error())
		return r
	}
	s, ok := schemas[gv.WithKind(kind)]
	if !ok {
		r.Errors = append(r.Errors, fmt.Sprintf("no CustomResourceDefinition serves %s %s", apiVersion, kind))
		return r
	}
	for _, msg := range utilvalidation.IsDNS1123Subdomain(name) {
		r.Errors = append(r.Errors, "metadata.name: "+msg)
	}
	if s.namespaced && namespace == "" {
		r.Errors = append(r.Errors, "metadata.namespace: required for a namespaced kind")
	}
	// Strict field validation: fields the schema does not know are errors, as `fieldValidation=Strict` makes them.
	pruned := structuralpruning.PruneWithOptions(obj, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, path := range pruned {
		r.Errors = append(r.Errors, fmt.Sprintf("unknown field %q", path))
	}
	structuraldefaulting.Default(obj, s.structural)
	validator, _, err := validation.NewSchemaValidator(s.internal)
	if err != nil {
		r.Errors = append(r.Errors, err.Error())
		return r
	}
	for _, e := range validation.ValidateCustomResource(nil, obj, validator) {
		r.Errors = append(r.Errors, e.Error())
	}
	for _, e := range listtype.ValidateListSetsAndMaps(nil, s.structural, obj) {
		r.Errors = append(r.Errors, e.Error())
	}
	celErrors, _ := cel.NewValidator(s.structural, true, celconfig.PerCallLimit).
		Validate(context.Background(), nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	for _, e := range celErrors {
		r.Errors = append(r.Errors, e.Error())
	}
	return r
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: crd-validate CRD_FILE... < objects.json")
		os.Exit(2)
	}
	schemas, err := loadCRDs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "crd-validate:", err)
		os.Exit(2)
	}
	var objects []map[string]interface{}
	decoder := json.NewDecoder(os.Stdin)
	decoder.UseNumber()
	if err := decoder.Decode(&objects); err != nil {
		fmt.Fprintln(os.Stderr, "crd-validate: stdin is not a JSON array of objects:", err)
		os.Exit(2)
	}
	results := make([]result, 0, len(objects))
	for _, obj := range objects {
		results = append(results, check(schemas, normalize(obj).(map[string]interface{})))
	}
	out, _ := json.MarshalIndent(results, "", "  ")
	fmt.Println(strings.TrimSpace(string(out)))
}

// normalize turns json.Number into int64 or float64, as the API server's decoder does for unstructured objects.
func normalize(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case []interface{}:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	default:
		return v
	}
}
