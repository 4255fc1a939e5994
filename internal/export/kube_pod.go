package export

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ynhd/ynhd/internal/decl"
)

// safeSysctls are the sysctls Kubernetes allows in every pod (the
// kubelet's "safe" set); others need the node's --allowed-unsafe-sysctls.
var safeSysctls = map[string]bool{
	"kernel.shm_rmid_forced":              true,
	"net.ipv4.ip_local_port_range":        true,
	"net.ipv4.ip_local_reserved_ports":    true,
	"net.ipv4.ip_unprivileged_port_start": true,
	"net.ipv4.ping_group_range":           true,
	"net.ipv4.tcp_fin_timeout":            true,
	"net.ipv4.tcp_keepalive_intvl":        true,
	"net.ipv4.tcp_keepalive_probes":       true,
	"net.ipv4.tcp_keepalive_time":         true,
	"net.ipv4.tcp_syncookies":             true,
}

// pullPolicies maps pull to imagePullPolicy. "newer" becomes Always:
// Kubernetes then compares the registry's digest and downloads only
// what changed, which is what podman's newer does.
var pullPolicies = map[string]corev1.PullPolicy{
	"always":  corev1.PullAlways,
	"newer":   corev1.PullAlways,
	"missing": corev1.PullIfNotPresent,
	"never":   corev1.PullNever,
}

// podSpec is the pod of the app's Deployment.
func (k *kubeApp) podSpec(envFiles map[string][]byte) (*corev1.PodSpec, error) {
	a := k.a
	c := corev1.Container{
		Name:            k.name,
		Image:           a.ImageRef(),
		ImagePullPolicy: pullPolicies[a.Pull],
		Command:         a.Entrypoint,
		Args:            a.Command,
		WorkingDir:      a.Workdir,
		TTY:             a.TTY,
	}
	if a.Build != nil {
		c.ImagePullPolicy = corev1.PullIfNotPresent
		k.w.warn("build", "Kubernetes does not build images: build %s, push it to a registry the cluster pulls from and set the image to that reference", a.Build.Tag)
	}
	for _, s := range a.Secrets {
		use := "mount it at " + s.Target
		if s.Type == decl.SecretEnv {
			use = "give it to the container as the variable " + s.Target + " (valueFrom.secretKeyRef)"
		}
		k.w.warn("secrets", "the podman secret %s is not exported: create a Kubernetes Secret with its value and %s by hand", s.PodmanName(a.Name), use)
	}
	grace := int64(seconds(a.StopTimeout.Duration))
	noLinks := false
	pod := &corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: &grace,
		// Service links would add variables the declaration does not have.
		EnableServiceLinks: &noLinks,
	}
	if err := k.env(&c, envFiles); err != nil {
		return nil, err
	}
	k.timezone(&c)
	k.ports(&c)
	k.volumes(&c, pod)
	k.security(&c, pod)
	k.health(&c)
	k.resources(&c)
	k.network(pod)
	k.lifecycle()
	k.warnLabels()
	pod.Containers = []corev1.Container{c}
	return pod, nil
}

// env sets the container's environment: the env table as values, what
// comes only from env files through a ConfigMap, and whatever looks like
// a secret through a Secret.
func (k *kubeApp) env(c *corev1.Container, envFiles map[string][]byte) error {
	vars, err := effectiveEnv(k.a, envFiles, k.w)
	if err != nil {
		return err
	}
	cmName, secName := k.name+"-env", k.name+"-secret"
	cm := map[string]string{}
	secret := map[string][]byte{}
	for _, v := range vars {
		switch {
		case v.Secret:
			secret[v.Name] = []byte(v.Value)
			c.Env = append(c.Env, corev1.EnvVar{Name: v.Name, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secName}, Key: v.Name},
			}})
			if !k.o.IncludeSecretValues {
				k.w.warn(v.Key, "%s looks like a secret: the Deployment reads it from Secret %s (key %s), whose value is not exported; create the Secret, or export with --include-secret-values", v.Name, secName, v.Name)
			}
		case v.FromFile != "" && len(validation.IsConfigMapKey(v.Name)) == 0:
			cm[v.Name] = v.Value
		default:
			c.Env = append(c.Env, corev1.EnvVar{Name: v.Name, Value: v.Value})
		}
	}
	if len(cm) > 0 {
		c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: cmName}}})
		k.objects = append(k.objects, &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: k.meta(cmName, k.ownLabels()),
			Data:       cm,
		})
	}
	if len(secret) == 0 {
		return nil
	}
	if !k.o.IncludeSecretValues {
		var lits []string
		for _, n := range sortedKeys(secret) {
			lits = append(lits, "--from-literal="+n+"=...")
		}
		k.notes = append(k.notes,
			fmt.Sprintf("note: Secret %s is referenced but not written (its values were left out); create it first:", secName),
			fmt.Sprintf("  kubectl create secret generic %s %s", secName, strings.Join(lits, " ")))
		return nil
	}
	k.notes = append(k.notes, fmt.Sprintf("note: Secret %s holds secret values in clear (base64); keep this file private.", secName))
	k.objects = append(k.objects, &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: k.meta(secName, k.ownLabels()),
		Type:       corev1.SecretTypeOpaque,
		Data:       secret,
	})
	return nil
}

// ownLabels label the app's ConfigMap, Secret and claims.
func (k *kubeApp) ownLabels() map[string]string {
	return map[string]string{LabelName: k.name, LabelManagedBy: "ynhd"}
}

// ports declares each container port, published on the node as its host
// port (hostPort, which is what podman kube play publishes) unless that
// is below 1024.
func (k *kubeApp) ports(c *corev1.Container) {
	for i, p := range k.a.Ports {
		cp := corev1.ContainerPort{
			ContainerPort: int32(p.ContainerPort),
			Protocol:      corev1.Protocol(strings.ToUpper(p.Protocol)),
		}
		if p.HostPort < 1024 {
			k.w.warn(fmt.Sprintf("ports[%d].host_port", i), "host port %d is below 1024: not written as a hostPort (rootless podman kube play cannot bind it, and Pod Security \"baseline\" clusters refuse host ports); reach port %d through the Service, a LoadBalancer or an Ingress", p.HostPort, p.ContainerPort)
		} else {
			cp.HostPort = int32(p.HostPort)
			cp.HostIP = p.HostIP
		}
		c.Ports = append(c.Ports, cp)
	}
}

// security maps capabilities, user and group, no_new_privileges,
// read_only, user namespaces, devices, sysctls and ulimits.
func (k *kubeApp) security(c *corev1.Container, pod *corev1.PodSpec) {
	a := k.a
	sc := &corev1.SecurityContext{}
	set := false
	if len(a.CapAdd)+len(a.CapDrop) > 0 {
		sc.Capabilities = &corev1.Capabilities{}
		for _, cp := range a.CapAdd {
			sc.Capabilities.Add = append(sc.Capabilities.Add, kubeCap(cp))
		}
		for _, cp := range a.CapDrop {
			sc.Capabilities.Drop = append(sc.Capabilities.Drop, kubeCap(cp))
		}
		set = true
	}
	if a.User != "" {
		if id, err := strconv.ParseInt(a.User, 10, 64); err == nil {
			sc.RunAsUser, set = &id, true
		} else {
			k.w.warn("user", "Kubernetes takes a numeric user id only: %q is not carried; the container runs as the image's user unless you set runAsUser to its id", a.User)
		}
	}
	if a.Group != "" {
		if id, err := strconv.ParseInt(a.Group, 10, 64); err == nil {
			sc.RunAsGroup, set = &id, true
		} else {
			k.w.warn("group", "Kubernetes takes a numeric group id only: %q is not carried; set runAsGroup to its id", a.Group)
		}
	}
	if a.NoNewPrivileges {
		f := false
		sc.AllowPrivilegeEscalation, set = &f, true
	}
	if a.ReadOnly {
		t := true
		sc.ReadOnlyRootFilesystem, set = &t, true
	}
	if set {
		c.SecurityContext = sc
	}
	for i, g := range a.GroupAdd {
		id, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			k.w.warn(fmt.Sprintf("group_add[%d]", i), "Kubernetes takes numeric supplementary groups only: %q is not carried; add its id to supplementalGroups", g)
			continue
		}
		if pod.SecurityContext == nil {
			pod.SecurityContext = &corev1.PodSecurityContext{}
		}
		pod.SecurityContext.SupplementalGroups = append(pod.SecurityContext.SupplementalGroups, id)
	}
	switch a.UserNS {
	case "", "host":
	case "auto":
		f := false
		pod.HostUsers = &f
		k.w.warn("userns", "written as hostUsers: false, which needs user namespace support on the cluster (on by default since Kubernetes 1.33, a feature gate before) and a runtime and kernel that support it; where it is missing the pod does not start: remove hostUsers there")
	default:
		k.w.warn("userns", "%q has no Kubernetes form (only a pod's own user namespace, hostUsers: false); not carried", a.UserNS)
	}
	if len(a.UIDMap) > 0 {
		k.w.warn("uid_map", "explicit id maps have no Kubernetes form (the runtime picks the range for hostUsers: false); not carried")
	}
	if len(a.GIDMap) > 0 {
		k.w.warn("gid_map", "explicit id maps have no Kubernetes form (the runtime picks the range for hostUsers: false); not carried")
	}
	for i, d := range a.Devices {
		k.w.warn(fmt.Sprintf("devices[%d]", i), "a host device (%s) has no Kubernetes form without a device plugin or a privileged container; not carried", d)
	}
	for _, name := range sortedKeys(a.Sysctls) {
		if safeSysctls[name] {
			if pod.SecurityContext == nil {
				pod.SecurityContext = &corev1.PodSecurityContext{}
			}
			pod.SecurityContext.Sysctls = append(pod.SecurityContext.Sysctls, corev1.Sysctl{Name: name, Value: a.Sysctls[name]})
			continue
		}
		k.w.warn("sysctls."+name, "not one of Kubernetes' safe sysctls: a kubelet refuses the pod unless its --allowed-unsafe-sysctls lists it; not carried")
	}
	for _, name := range sortedKeys(a.Ulimits) {
		k.w.warn("ulimits."+name, "Kubernetes has no per-container resource limits of this kind (the node's runtime sets them); not carried")
	}
}

// kubeCap is a capability as Kubernetes names it: without CAP_.
func kubeCap(c string) corev1.Capability {
	u := strings.ToUpper(c)
	return corev1.Capability(strings.TrimPrefix(u, "CAP_"))
}

// health turns the health check into a liveness probe (Kubernetes
// restarts the container when it fails, as the default on_failure = kill
// makes systemd do) and, where another app's requires_healthy waits for
// this one, a readiness probe. on_failure = "none" only reports health:
// a readiness probe only.
func (k *kubeApp) health(c *corev1.Container) {
	h := k.a.Health
	if h == nil {
		if len(k.healthyDeps) > 0 {
			k.w.warn("health", "%s waits for this app to be healthy, but it has no health check", strings.Join(k.healthyDeps, ", "))
		}
		return
	}
	probe := func() *corev1.Probe {
		p := &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: h.Cmd}},
			PeriodSeconds:    30,
			TimeoutSeconds:   30,
			FailureThreshold: 3,
		}
		if h.Interval.Duration > 0 {
			p.PeriodSeconds = max(seconds(h.Interval.Duration), 1)
		}
		if h.Timeout.Duration > 0 {
			p.TimeoutSeconds = max(seconds(h.Timeout.Duration), 1)
		}
		if h.Retries > 0 {
			p.FailureThreshold = int32(h.Retries)
		}
		p.InitialDelaySeconds = seconds(h.StartPeriod.Duration)
		return p
	}
	if h.OnFailure != "none" {
		c.LivenessProbe = probe()
	}
	if h.OnFailure == "none" || len(k.healthyDeps) > 0 {
		c.ReadinessProbe = probe()
	}
}

// resources maps memory and cpus to limits.
func (k *kubeApp) resources(c *corev1.Container) {
	r := k.a.Resources
	limits := corev1.ResourceList{}
	if r.Memory != "" {
		if n, err := decl.ParseSize(r.Memory); err == nil {
			limits[corev1.ResourceMemory] = *resource.NewQuantity(n, resource.BinarySI)
		}
	}
	if r.CPUs > 0 {
		limits[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(math.Round(r.CPUs*1000)), resource.DecimalSI)
	}
	if len(limits) > 0 {
		c.Resources.Limits = limits
	}
	if r.Pids > 0 {
		k.w.warn("resources.pids", "Kubernetes has no per-container process limit (the kubelet's podPidsLimit applies to every pod of a node); not carried")
	}
}

// parseSize reads a podman size: a whole number with an optional unit b,
// k, m or g (powers of 1024).
func parseSize(s string) (int64, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'b':
			s = s[:len(s)-1]
		case 'k':
			mult, s = 1<<10, s[:len(s)-1]
		case 'm':
			mult, s = 1<<20, s[:len(s)-1]
		case 'g':
			mult, s = 1<<30, s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, false
	}
	return n * mult, true
}

// network maps the network mode, DNS servers and host name.
func (k *kubeApp) network(pod *corev1.PodSpec) {
	a := k.a
	mode, _, _ := strings.Cut(a.Network, ":")
	switch mode {
	case "", "slirp4netns", "pasta", "bridge", "private":
	case "host":
		pod.HostNetwork = true
	case "none", "ns", "container":
		k.w.warn("network", "%q has no Kubernetes form: a pod always has the cluster's network; not carried", a.Network)
	default:
		if len(a.Ports) == 0 {
			k.w.warn("network", "on network %q other apps reach %s by its name, but it declares no ports, so no Service is written and that name does not resolve in a cluster: add a Service for the ports it listens on", a.Network, a.Name)
		}
	}
	for _, h := range a.AddHost {
		host, ip, _ := strings.Cut(h, ":")
		i := slices.IndexFunc(pod.HostAliases, func(ha corev1.HostAlias) bool { return ha.IP == ip })
		if i < 0 {
			pod.HostAliases = append(pod.HostAliases, corev1.HostAlias{IP: ip})
			i = len(pod.HostAliases) - 1
		}
		pod.HostAliases[i].Hostnames = append(pod.HostAliases[i].Hostnames, host)
	}
	if len(a.NetworkAliases) > 0 {
		k.w.warn("network_aliases", "in a cluster other apps reach %s by its Service name only: %s are not carried; add Services of those names (selector %s=%s) to keep them", a.Name, strings.Join(a.NetworkAliases, ", "), LabelName, k.name)
	}
	if len(a.DNS) > 0 {
		pod.DNSPolicy = corev1.DNSNone
		pod.DNSConfig = &corev1.PodDNSConfig{Nameservers: a.DNS}
	}
	if a.Hostname != "" {
		label, domain, _ := strings.Cut(a.Hostname, ".")
		pod.Hostname = dnsLabel(label)
		if domain != "" || pod.Hostname != label {
			k.w.warn("hostname", "a pod's host name is a single DNS label: %q becomes %q (a domain needs a headless Service named after it as the pod's subdomain)", a.Hostname, pod.Hostname)
		}
	}
}

// lifecycle warns about the keys of how the container is run and stopped
// that have no Kubernetes form.
func (k *kubeApp) lifecycle() {
	a := k.a
	if a.Systemd {
		k.w.warn("systemd", "systemd mode has no Kubernetes form: an init system as PID 1 needs what podman --systemd=always provides (cgroup file system, tmpfs mounts, readiness through sd_notify, SIGRTMIN+3 to stop); the container runs %s as a plain command", strings.Join(append(append([]string{}, a.Entrypoint...), a.Command...), " "))
	}
	if p := a.UpdatePolicy(); p != "off" {
		k.w.warn("update", "Kubernetes does not follow a tag by itself: policy %q has no form; roll out a new image with the Deployment (its readiness probe gates the rollout) or a tool that watches the registry", p)
	}
	if a.Persistent {
		k.w.warn("persistent", "a pod's container file system starts afresh at every restart, and Kubernetes has no snapshots: what %s keeps outside volumes must move into volumes (PersistentVolumeClaims) before it runs there", a.Name)
	}
	if a.StopSignal != "" && !(a.Systemd && a.StopSignal == decl.SystemdStopSignal) {
		k.w.warn("stop_signal", "Kubernetes stops containers with the image's STOPSIGNAL (or SIGTERM); %s is not carried: set STOPSIGNAL in the image", a.StopSignal)
	}
	if a.Restart != "" && a.Restart != "always" {
		k.w.warn("restart", "a Deployment's pods always restart (restartPolicy Always); %q has no form here", a.Restart)
	}
	if a.LogDriver != "" && a.LogDriver != "journald" {
		k.w.warn("log_driver", "the cluster collects the container's output itself; %q is not carried", a.LogDriver)
	}
	if len(a.LogOptions) > 0 {
		k.w.warn("log_options", "the cluster collects the container's output itself; log options are not carried")
	}
	if a.Init {
		k.w.warn("init", "Kubernetes has no per-container init (shareProcessNamespace makes the pause container PID 1 for the whole pod, which is not the same); not carried: put an init such as tini in the image's entrypoint")
	}
	if a.StartTimeout != nil {
		k.w.warn("start_timeout", "Kubernetes has no start timeout for a container (a startupProbe needs a check to run); not carried")
	}
	if len(a.PodmanArgs) > 0 {
		k.w.warn("podman_args", "podman arguments have no Kubernetes form; not carried: %s", strings.Join(a.PodmanArgs, " "))
	}
}

// timezone carries tz as the TZ variable, which the C library and most
// runtimes read; podman --tz gives the container the zone's file instead,
// so the variable helps only where the image has time zone data.
func (k *kubeApp) timezone(c *corev1.Container) {
	a := k.a
	switch {
	case a.TZ == "":
	case a.TZ == "local":
		k.w.warn("tz", "a cluster has no host time zone to share: \"local\" is not carried; set tz to a zone name")
	case slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "TZ" }):
		k.w.warn("tz", "the environment sets TZ already: %q is not carried", a.TZ)
	default:
		c.Env = append(c.Env, corev1.EnvVar{Name: "TZ", Value: a.TZ})
		k.w.warn("tz", "written as the TZ variable, which takes effect only where the image has time zone data (podman --tz gives the container the zone's file)")
	}
}

func intOrString(n int32) intstr.IntOrString { return intstr.FromInt32(n) }
