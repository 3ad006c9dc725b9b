"""litellm tests: no remote cost-map fetch at import (litellm is imported once per session)."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
