"""The istio-canary component provider, as Pulumi runs a plugin: `python plugin/ <engine address>`.

The package is the repository's own `canary`, imported from the checkout this folder sits in,
with the checkout's virtualenv (PulumiPlugin.yaml): one copy of the code, no second install.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from canary.provider.server import serve  # after the path above, which makes it importable

serve(sys.argv[1:])
