package importer

import (
	"path"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// secretFlag imports podman's --secret NAME[,type=mount|env][,target=T]
// (Quadlet's Secret= is the same value): a podman secret the user made,
// which the declaration names without a source.
func secretFlag(r *runImport, name, v string) {
	parts := strings.Split(v, ",")
	es := [][3]string{{"name", Str(parts[0]), "a podman secret of yours: podman secret create " + parts[0] + " FILE"}}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		switch k {
		case "type":
			if val != "mount" {
				es = append(es, [3]string{"type", Str(val), ""})
			}
		case "target":
			es = append(es, [3]string{"target", Str(val), ""})
		default:
			r.d.Note(name, true, "%s: the option %s has no secrets key (uid, gid, mode stay podman's defaults)", parts[0], k)
		}
	}
	r.d.Add("secrets", es...)
}

// composeSecrets adds a service's secrets: a file secret of the project
// becomes a secret ynhd makes from that file, an external one a podman
// secret of the user's of the same name, an environment one a secret
// made from ynhd's own environment. Compose mounts a secret at
// /run/secrets/TARGET (TARGET defaults to the secret's name).
func composeSecrets(d *Decl, p *types.Project, s types.ServiceConfig) {
	refs := append([]types.ServiceSecretConfig(nil), s.Secrets...)
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].Source < refs[j].Source })
	for _, ref := range refs {
		cfg, ok := p.Secrets[ref.Source]
		if !ok {
			d.Note("secrets", true, "%s is not a secret of the project", ref.Source)
			continue
		}
		target := ref.Target
		if target == "" {
			target = ref.Source
		}
		if !path.IsAbs(target) {
			target = "/run/secrets/" + target
		}
		es := [][3]string{{"name", Str(ref.Source), ""}}
		switch {
		case bool(cfg.External):
			name := ref.Source
			if cfg.Name != "" {
				name = cfg.Name
			}
			es[0] = [3]string{"name", Str(name), "external: a podman secret of yours (podman secret create " + name + " FILE)"}
		case cfg.File != "":
			es = append(es, [3]string{"file", Str(cfg.File), ""})
		case cfg.Environment != "":
			es = append(es, [3]string{"env", Str(cfg.Environment), "a variable of ynhd's environment, not of the shell that ran compose"})
			d.Note("secrets", false, "%s comes from the variable %s: set it in ynhd's environment (systemctl --user set-environment, or a drop-in for ynhd.service)", ref.Source, cfg.Environment)
		case cfg.Content != "":
			d.Note("secrets", true, "%s: an inline secret has no form; write its value to a file readable only by you and name it in secrets.file", ref.Source)
			continue
		default:
			d.Note("secrets", true, "%s has no file, environment or external source", ref.Source)
			continue
		}
		if target != "/run/secrets/"+ref.Source {
			es = append(es, [3]string{"target", Str(target), ""})
		}
		if ref.UID != "" || ref.GID != "" || ref.Mode != nil {
			d.Note("secrets", true, "%s: uid, gid and mode have no secrets key (podman mounts the file read-only, mode 0444)", ref.Source)
		}
		d.Add("secrets", es...)
	}
}
