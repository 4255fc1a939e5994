package export

import (
	"bytes"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/ynhd/ynhd/internal/decl"
)

// Labels every exported object carries.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelPartOf carries part_of, the app's group.
	LabelPartOf = "app.kubernetes.io/part-of"
	// AnnotationDeclaration names the declaration file an object comes
	// from.
	AnnotationDeclaration = "io.ynhd/declaration"
	// annotationDescription is the annotation Kubernetes tools show as an
	// object's description.
	annotationDescription = "kubernetes.io/description"
)

// DefaultVolumeSize is the storage a PersistentVolumeClaim requests when
// KubeOptions.VolumeSize is zero.
var DefaultVolumeSize = resource.MustParse("1Gi")

// KubeOptions change what Kube writes.
type KubeOptions struct {
	// IncludeSecretValues writes Secrets with their values. Without it,
	// variables that look like secrets (see LooksSecret) are references
	// to a Secret the export does not write, and each draws a warning.
	IncludeSecretValues bool
	// VolumeSize is the storage each PersistentVolumeClaim requests;
	// zero means DefaultVolumeSize.
	VolumeSize resource.Quantity
	// NoClaims leaves the PersistentVolumeClaims out; pods still mount
	// claims named like the volumes. For claims provisioned separately,
	// and for podman kube play 4.3, which refuses a claim whose volume
	// already exists but mounts an existing volume by claim name.
	NoClaims bool
}

// Kube writes Kubernetes manifests for in.Apps: per app, one YAML stream
// (APP.yaml) with, as needed, a ConfigMap (env files), a Secret
// (variables that look like secrets), PersistentVolumeClaims (named
// volumes, each written once), a Deployment (one replica, Recreate) and a
// Service (its ports). Everything without a Kubernetes form is a warning.
// The error is for input Kube cannot use: an env file that was not read
// or cannot be parsed.
func Kube(in Input, o KubeOptions) ([]File, decl.Diagnostics, error) {
	if o.VolumeSize.IsZero() {
		o.VolumeSize = DefaultVolumeSize
	}
	healthyDeps := map[string][]string{} // app -> apps that wait for it to be healthy
	for _, a := range in.all() {
		for _, d := range a.RequiresHealthy {
			healthyDeps[d] = append(healthyDeps[d], a.Name)
		}
	}
	claims := map[string]string{} // claim name -> first app that uses it
	var ds decl.Diagnostics
	var out []File
	for _, a := range in.Apps {
		k := &kubeApp{
			a: a, o: o, w: warner{app: a, ds: &ds},
			name:        dnsLabel(a.Name),
			healthyDeps: healthyDeps[a.Name],
			claims:      claims,
		}
		data, err := k.build(in.EnvFiles)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, File{Name: a.Name + ".yaml", Data: data})
	}
	return out, ds, nil
}

// kubeApp builds the objects of one app.
type kubeApp struct {
	a           *decl.App
	o           KubeOptions
	w           warner
	name        string   // the app's Kubernetes name
	healthyDeps []string // apps whose requires_healthy names this one
	claims      map[string]string

	notes   []string // comment lines at the top of the stream
	objects []any
}

func (k *kubeApp) build(envFiles map[string][]byte) ([]byte, error) {
	a := k.a
	if k.name != a.Name {
		k.w.warn("", "the app name %q is not a valid Kubernetes name; its objects are named %q, and apps that reach it by name must use that", a.Name, k.name)
	}
	pod, err := k.podSpec(envFiles)
	if err != nil {
		return nil, err
	}
	replicas := int32(1)
	if !a.IsEnabled() {
		replicas = 0
	}
	labels := k.labels()
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: k.meta(k.name, labels),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelName: k.name}},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: k.annotations()},
				Spec:       *pod,
			},
		},
	}
	k.objects = append(k.objects, dep)
	if svc := k.service(pod.Containers[0].Ports); svc != nil {
		k.objects = append(k.objects, svc)
	}
	k.dependencies()
	return k.bytes()
}

// meta is the metadata of one of the app's objects.
func (k *kubeApp) meta(name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: labels, Annotations: k.annotations()}
}

// labels are the app's own labels (those Kubernetes accepts as labels)
// plus the standard name and managed-by labels.
func (k *kubeApp) labels() map[string]string {
	l := map[string]string{}
	for _, key := range sortedKeys(k.a.Labels) {
		v := k.a.Labels[key]
		if len(validation.IsQualifiedName(key)) == 0 && len(validation.IsValidLabelValue(v)) == 0 {
			l[key] = v
		}
	}
	l[LabelName] = k.name
	l[LabelManagedBy] = "ynhd"
	if k.a.PartOf != "" {
		l[LabelPartOf] = k.a.PartOf
	}
	return l
}

// annotations carry the declaration's name and description, and the
// labels Kubernetes does not accept as labels.
func (k *kubeApp) annotations() map[string]string {
	an := map[string]string{AnnotationDeclaration: sourceName(k.a)}
	if d := strings.TrimSpace(k.a.Description); d != "" {
		an[annotationDescription] = d
	}
	for _, key := range sortedKeys(k.a.Labels) {
		v := k.a.Labels[key]
		if len(validation.IsQualifiedName(key)) != 0 || len(validation.IsValidLabelValue(v)) != 0 {
			an[key] = v
		}
	}
	return an
}

// warnLabels reports the labels that became annotations (once per app).
func (k *kubeApp) warnLabels() {
	for _, key := range sortedKeys(k.a.Labels) {
		v := k.a.Labels[key]
		if len(validation.IsQualifiedName(key)) > 0 {
			k.w.warn("labels."+key, "not a valid Kubernetes label key (at most 63 letters, digits, '-', '_' or '.' after an optional DNS prefix/); written as an annotation, which selectors cannot match")
		} else if len(validation.IsValidLabelValue(v)) > 0 {
			k.w.warn("labels."+key, "not a valid Kubernetes label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit); written as an annotation, which selectors cannot match")
		}
	}
}

// service is the ClusterIP Service for the container's ports, named like
// the app so that other apps reach it by the same name as on a podman
// network; nil when the app has no ports.
func (k *kubeApp) service(ports []corev1.ContainerPort) *corev1.Service {
	if len(ports) == 0 {
		return nil
	}
	var sp []corev1.ServicePort
	seen := map[string]bool{}
	for _, p := range ports {
		name := fmt.Sprintf("%s-%d", strings.ToLower(string(p.Protocol)), p.ContainerPort)
		if seen[name] {
			continue
		}
		seen[name] = true
		sp = append(sp, corev1.ServicePort{
			Name: name, Protocol: p.Protocol, Port: p.ContainerPort,
			TargetPort: intOrString(p.ContainerPort),
		})
	}
	name := serviceName(k.a.Name)
	if name != k.name {
		k.w.warn("", "the app name %q is not a valid Service name; its Service is named %q", k.a.Name, name)
	}
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: k.meta(name, map[string]string{LabelName: k.name, LabelManagedBy: "ynhd"}),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: map[string]string{LabelName: k.name},
			Ports:    sp,
		},
	}
}

// dependencies warns about the dependency keys: Kubernetes starts pods
// independently and in no order.
func (k *kubeApp) dependencies() {
	a := k.a
	for _, d := range []struct {
		key  string
		apps []string
	}{{"after", a.After}, {"requires", a.Requires}, {"wants", a.Wants}} {
		if len(d.apps) > 0 {
			k.w.warn(d.key, "Kubernetes starts pods independently and in no order, so %s has no form: %s must keep retrying until %s answers (its restarts do that)", d.key, a.Name, strings.Join(d.apps, ", "))
		}
	}
	if len(a.RequiresHealthy) > 0 {
		k.w.warn("requires_healthy", "Kubernetes does not hold a pod back until another is healthy: %s starts at once and must retry; %s gets a readiness probe, so its Service sends traffic only while it is healthy", a.Name, strings.Join(a.RequiresHealthy, ", "))
	}
}

// bytes serialises the app's objects as one YAML stream, after a comment
// header with its source and notes.
func (k *kubeApp) bytes() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Generated by ynhd export kube from %s.\n", sourceName(k.a))
	for _, n := range k.notes {
		fmt.Fprintf(&b, "# %s\n", n)
	}
	for _, obj := range k.objects {
		y, err := yaml.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("exporting %q: %w", k.a.Name, err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes(), nil
}
