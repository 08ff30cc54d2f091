"""Security profiles for the app's pods: what each locks down, and what it cannot.

`hardened` is the default and what a platform team would accept: non-root with a high UID,
read-only root filesystem (an emptyDir at /tmp for scratch files), no privilege escalation,
every capability dropped, seccomp RuntimeDefault, no service-account token.

`root` is for images that must start as root, like the stock nginx images of the tutorial: the
master process binds port 80, creates and chowns its cache directories, then switches its
workers to the unprivileged `nginx` user. It keeps everything else of `hardened` and adds back
only the capabilities that start-up needs. The scanner checks it cannot meet are skipped on the
Deployment, each with its reason, so every exception shows in the manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

from canary.plan.rules import checks

SCRATCH_VOLUME = "tmp"


# The names of the profiles below, for the type checker (a test keeps them equal to PROFILES).
ProfileName = Literal["hardened", "root"]


@dataclass(frozen=True)
class SecurityProfile:
    name: ProfileName
    """The profile's name, as the stack config gives it (`hardened`, `root`). Required."""
    runs_as_user: bool
    """The pods run as `run_as_user` (UID and GID), never as root. Required."""
    read_only_root_filesystem: bool
    """The containers' root filesystem is read-only; an `emptyDir` on `/tmp` takes scratch files. Required."""
    added_capabilities: tuple[str, ...] = ()
    """Linux capabilities added back after all are dropped (`NET_BIND_SERVICE`, ...). Default: `()`."""
    scan_exceptions: Mapping[str, str] = field(default_factory=dict)
    """Scanner checks the profile cannot meet: check id -> the reason shown in the manifest. Default: `{}`."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "name": checks.one_of(*get_args(ProfileName)),
        "runs_as_user": checks.boolean,
        "read_only_root_filesystem": checks.boolean,
        "added_capabilities": checks.Each(checks.capability, unique=True),
        "scan_exceptions": checks.Entries(key=checks.check_id, value=checks.scan_reason),
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)


_ROOT_REASON = "securityProfile root: the image starts as root (binds port 80, then drops to its own user)"

HARDENED = SecurityProfile(name="hardened", runs_as_user=True, read_only_root_filesystem=True)
ROOT = SecurityProfile(
    name="root",
    runs_as_user=False,
    # The image writes its cache and pid file under /var: a read-only root would stop it.
    read_only_root_filesystem=False,
    added_capabilities=("CHOWN", "NET_BIND_SERVICE", "SETGID", "SETUID"),
    scan_exceptions={
        "CKV_K8S_22": "securityProfile root: the image writes to /var/cache and /var/run at start-up",
        "CKV_K8S_23": _ROOT_REASON,
        "CKV_K8S_25": "securityProfile root: adds back CHOWN, NET_BIND_SERVICE, SETGID and SETUID only, "
        "which the root start-up needs",
        "CKV_K8S_40": _ROOT_REASON,
    },
)

PROFILES: dict[ProfileName, SecurityProfile] = {profile.name: profile for profile in (HARDENED, ROOT)}


def container_security_context(profile: SecurityProfile, run_as_user: int) -> dict[str, Any]:
    """The container's securityContext, as the Kubernetes API spells it."""
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": profile.read_only_root_filesystem,
        "capabilities": {
            "drop": ["ALL"],
            **({"add": list(profile.added_capabilities)} if profile.added_capabilities else {}),
        },
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if profile.runs_as_user:
        context.update(runAsNonRoot=True, runAsUser=run_as_user, runAsGroup=run_as_user)
    return context


def pod_security_context(profile: SecurityProfile, run_as_user: int) -> dict[str, Any]:
    """The pod's securityContext, as the Kubernetes API spells it."""
    context: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}
    if profile.runs_as_user:
        # Files in mounted volumes are group-owned by the app's group, so it can write /tmp.
        context.update(runAsNonRoot=True, fsGroup=run_as_user)
    return context
