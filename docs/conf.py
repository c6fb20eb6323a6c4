"""Sphinx configuration: MyST Markdown pages, the furo theme, autodoc from the package's docstrings.

Built by ``bash .ci/docs`` (warnings fail it). Code in the guides is included from ``example_dags/`` by
``# [START ...]``/``# [END ...]`` markers, as Airflow's own provider docs do, so it is never copied.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

# autodoc imports the package, and so Airflow: give it a private, throw-away home before that.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="hubspot-provider-docs-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

from hubspot_scheduler_provider import DISTRIBUTION_NAME, __version__  # noqa: E402

project = DISTRIBUTION_NAME
author = "The airflow-provider-hubspot-scheduler authors"
copyright = f"2026, {author}"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "benchmarks_table",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "class"
# Members without a docstring of their own (e.g. an overridden requests method) stay out.
autodoc_inherit_docstrings = False

html_theme = "furo"
html_title = f"HubSpot Scheduler provider {release}"
html_static_path: list[str] = []
