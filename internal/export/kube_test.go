package export

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// TestKubeGolden exports every example in configs/ and every per-key
// declaration in testdata/keys, compares the manifests and the warnings
// with testdata/golden/kube, and decodes each manifest strictly back into
// the Kubernetes API types.
func TestKubeGolden(t *testing.T) {
	for _, gs := range goldenSets {
		s := loadSet(t, gs.pattern)
		files, ds, err := Kube(Input{Apps: s.apps, EnvFiles: s.envFiles}, KubeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range files {
			a := s.apps[i]
			base := filepath.Join("testdata", "golden", "kube", gs.id+"-"+a.Name)
			golden(t, base+".yaml", f.Data)
			golden(t, base+".warnings", warningText(ds, a))
			strictRoundTrip(t, f.Name, f.Data)
		}
	}
}

// TestKubeSecretValues: with IncludeSecretValues the Secret is written
// with the values and nothing is warned about them.
func TestKubeSecretValues(t *testing.T) {
	s := loadSet(t, "testdata/keys/secrets.toml")
	files, ds, err := Kube(Input{Apps: s.apps}, KubeOptions{IncludeSecretValues: true, VolumeSize: resource.MustParse("5Gi")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 0 {
		t.Errorf("warnings: %v", ds)
	}
	golden(t, "testdata/golden/kube/secret-values.yaml", files[0].Data)
	objs := strictRoundTrip(t, files[0].Name, files[0].Data)
	var sec *corev1.Secret
	for _, o := range objs {
		if s, ok := o.(*corev1.Secret); ok {
			sec = s
		}
	}
	if sec == nil || string(sec.Data["ADMIN_PASSWORD"]) != "change-me" || string(sec.Data["DATABASE_URL"]) != "postgres://app:s3cret@db/app" {
		t.Errorf("secret = %+v", sec)
	}
}

// TestKubeVolumeSize: the claim size follows the option.
func TestKubeVolumeSize(t *testing.T) {
	s := loadSet(t, "testdata/keys/volumes.toml")
	files, _, err := Kube(Input{Apps: s.apps}, KubeOptions{VolumeSize: resource.MustParse("20Gi")})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range strictRoundTrip(t, files[0].Name, files[0].Data) {
		if c, ok := o.(*corev1.PersistentVolumeClaim); ok {
			n++
			if got := c.Spec.Resources.Requests.Storage().String(); got != "20Gi" {
				t.Errorf("claim %s requests %s, want 20Gi", c.Name, got)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d claims, want 3", n)
	}
}

// TestKubeNoClaims: the claims are left out, the pod still mounts them.
func TestKubeNoClaims(t *testing.T) {
	s := loadSet(t, "testdata/keys/volumes.toml")
	files, _, err := Kube(Input{Apps: s.apps}, KubeOptions{NoClaims: true})
	if err != nil {
		t.Fatal(err)
	}
	var mounted []string
	for _, o := range strictRoundTrip(t, files[0].Name, files[0].Data) {
		switch o := o.(type) {
		case *corev1.PersistentVolumeClaim:
			t.Errorf("claim %s written", o.Name)
		case *appsv1.Deployment:
			for _, v := range o.Spec.Template.Spec.Volumes {
				if v.PersistentVolumeClaim != nil {
					mounted = append(mounted, v.PersistentVolumeClaim.ClaimName)
				}
			}
		}
	}
	if got := strings.Join(mounted, " "); got != "data shared-config-1 nfs" {
		t.Errorf("claims mounted: %q", got)
	}
}

// TestKubeMissingEnvFile: an env file that was not read is an error, not
// a silently empty ConfigMap.
func TestKubeMissingEnvFile(t *testing.T) {
	s := loadSet(t, "testdata/keys/env_files.toml")
	_, _, err := Kube(Input{Apps: s.apps}, KubeOptions{})
	if err == nil || !strings.Contains(err.Error(), "env_files[0]") {
		t.Errorf("err = %v, want one naming env_files[0]", err)
	}
}

// strictRoundTrip splits a YAML stream into documents, decodes each
// strictly (unknown or duplicate fields are errors) into the API type its
// kind names, and checks that encoding it again gives the same document.
func strictRoundTrip(t *testing.T, name string, data []byte) []any {
	t.Helper()
	var objs []any
	for i, doc := range splitYAML(data) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("%s: document %d: %v", name, i, err)
		}
		var obj any
		switch tm.APIVersion + "/" + tm.Kind {
		case "apps/v1/Deployment":
			obj = &appsv1.Deployment{}
		case "v1/Service":
			obj = &corev1.Service{}
		case "v1/ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1/Secret":
			obj = &corev1.Secret{}
		case "v1/PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		default:
			t.Fatalf("%s: document %d: unexpected %s %s", name, i, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s: document %d (%s): strict decode: %v", name, i, tm.Kind, err)
		}
		again, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, doc) {
			t.Errorf("%s: document %d (%s) does not survive a round trip:\n%s\nvs\n%s", name, i, tm.Kind, doc, again)
		}
		objs = append(objs, obj)
	}
	if len(objs) == 0 {
		t.Fatalf("%s: no documents", name)
	}
	return objs
}

// splitYAML splits a stream at its "---" lines, dropping the comment
// header.
func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	for i, part := range strings.Split(string(data), "---\n") {
		if i == 0 {
			if strings.TrimSpace(stripComments(part)) != "" {
				docs = append(docs, []byte(part))
			}
			continue
		}
		docs = append(docs, []byte(part))
	}
	return docs
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "#") {
			fmt.Fprintln(&b, l)
		}
	}
	return b.String()
}
