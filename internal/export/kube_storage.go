package export

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ynhd/ynhd/internal/decl"
)

// volumes maps named volumes to PersistentVolumeClaims (or, for a tmpfs
// volume, a memory-backed emptyDir), binds to hostPath and tmpfs mounts to
// memory-backed emptyDirs.
func (k *kubeApp) volumes(c *corev1.Container, pod *corev1.PodSpec) {
	a := k.a
	used := map[string]bool{}
	add := func(name string, src corev1.VolumeSource, target string, ro bool) {
		name = dnsLabel(name)
		base := name
		for i := 2; used[name]; i++ {
			name = dnsLabel(fmt.Sprintf("%s-%d", base, i))
		}
		used[name] = true
		pod.Volumes = append(pod.Volumes, corev1.Volume{Name: name, VolumeSource: src})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: target, ReadOnly: ro})
	}
	for i, v := range a.Volumes {
		key := fmt.Sprintf("volumes[%d]", i)
		if v.Options["type"] == "tmpfs" && (v.Driver == "" || v.Driver == "local") {
			ed := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
			ed.SizeLimit = k.tmpfsOptions(key+".options.o", strings.Split(v.Options["o"], ","))
			add(v.Name, corev1.VolumeSource{EmptyDir: ed}, v.Target, v.ReadOnly)
			continue
		}
		claim := dnsLabel(v.Name)
		if claim != v.Name {
			k.w.warn(key+".name", "%q is not a valid Kubernetes name: the claim is %s, so podman kube play mounts a new, empty volume of that name instead of %s", v.Name, claim, v.Name)
		}
		if v.Driver != "" || len(v.Options) > 0 {
			k.w.warn(key, "volume driver and options have no Kubernetes form: claim %s uses the cluster's default StorageClass (set storageClassName to choose another)", claim)
		}
		if first, ok := k.claims[claim]; ok {
			if first != a.Name {
				k.w.warn(key, "claim %s is also used by %s and written in its manifests; a ReadWriteOnce claim is mounted by pods on one node only", claim, first)
			}
		} else {
			k.claims[claim] = a.Name
			if !k.o.NoClaims {
				k.objects = append(k.objects, &corev1.PersistentVolumeClaim{
					TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
					ObjectMeta: k.meta(claim, k.ownLabels()),
					Spec: corev1.PersistentVolumeClaimSpec{
						AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources: corev1.VolumeResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceStorage: k.o.VolumeSize},
						},
					},
				})
			}
		}
		add(v.Name, corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: v.ReadOnly}}, v.Target, v.ReadOnly)
	}
	for i, v := range a.Volumes {
		if v.SELinux != "" {
			k.w.warn(fmt.Sprintf("volumes[%d].selinux", i), "SELinux relabelling has no Kubernetes form (the runtime labels volumes); not carried")
		}
	}
	for i, b := range a.Binds {
		key := fmt.Sprintf("binds[%d]", i)
		k.w.warn(key, "written as hostPath %s: a cluster mounts that path of whichever node runs the pod, not this host's; copy the data into a volume (a PersistentVolumeClaim) there", b.Source)
		if b.SELinux != "" {
			k.w.warn(key+".selinux", "SELinux relabelling has no Kubernetes form (the runtime labels volumes); not carried")
		}
		add("bind"+b.Target, corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: b.Source}}, b.Target, b.ReadOnly)
	}
	for i, t := range a.Tmpfs {
		ed := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
		ro := false
		var rest []string
		for _, o := range t.Options {
			if o == "ro" {
				ro = true
			} else {
				rest = append(rest, o)
			}
		}
		ed.SizeLimit = k.tmpfsOptions(fmt.Sprintf("tmpfs[%d].options", i), rest)
		add("tmpfs"+t.Target, corev1.VolumeSource{EmptyDir: ed}, t.Target, ro)
	}
	if a.ShmSize != "" {
		// A pod's /dev/shm is the runtime's 64 MiB; a memory-backed
		// emptyDir mounted over it is the usual way to size it.
		ed := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
		if n, err := decl.ParseSize(a.ShmSize); err == nil {
			ed.SizeLimit = resource.NewQuantity(n, resource.BinarySI)
		}
		add("shm", corev1.VolumeSource{EmptyDir: ed}, "/dev/shm", false)
	}
}

// tmpfsOptions returns the size limit among tmpfs mount options and warns
// about the options an emptyDir cannot carry.
func (k *kubeApp) tmpfsOptions(key string, opts []string) *resource.Quantity {
	var size *resource.Quantity
	var dropped []string
	for _, o := range opts {
		switch {
		case o == "" || o == "rw" || o == "exec":
		case strings.HasPrefix(o, "size="):
			if n, ok := parseSize(strings.TrimPrefix(o, "size=")); ok {
				size = resource.NewQuantity(n, resource.BinarySI)
			} else {
				dropped = append(dropped, o)
			}
		default:
			dropped = append(dropped, o)
		}
	}
	if len(dropped) > 0 {
		k.w.warn(key, "an emptyDir (medium: Memory) takes no mount options: %s not carried (it is mode 0777, exec allowed)", strings.Join(dropped, ","))
	}
	return size
}
