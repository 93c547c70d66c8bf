"""critest, the Kubernetes CRI validation suite, against pyrunc and runc as containerd runtime handlers (make cri-validation)."""
