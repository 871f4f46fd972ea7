"""Sphinx configuration of the sk_crnn documentation.

Build from the repository root with warnings as errors::

    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

import os
import sys
from pathlib import Path

# Import the package from this checkout even when it is not installed.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _gallery_order
os.environ.setdefault("TQDM_DISABLE", "1")

import sk_crnn  # noqa: E402

project = "sk_crnn"
author = "sk_crnn developers"
copyright = "sk_crnn developers"
version = release = sk_crnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# -- sphinx-gallery ---------------------------------------------------------------------------
# The scripts in ../examples run on every build (plots on matplotlib's Agg backend) and their
# pages, pictures and downloads are written to docs/auto_examples/ (git-ignored). An example
# that fails fails the build. tests/test_examples.py runs the same scripts.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "_gallery_order.example_order",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "show_memory": False,
    # No execution-times page: it loads its table scripts from a CDN, which CI cannot reach.
    "write_computation_times": False,
    "remove_config_comments": True,
    # Link the names in the code to their API pages of these docs, and keep for each of
    # sk_crnn's names the examples that use it (the index's thumbnails read them).
    "reference_url": {"sk_crnn": None},
    "doc_module": ("sk_crnn",),
    "backreferences_dir": "generated/backreferences",
    "minigallery_sort_order": "_gallery_order.example_order",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
}

# -- autodoc / autosummary ---------------------------------------------------------------------
# Stub pages are generated into docs/generated/ (git-ignored) on every build.
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # numpydoc docstrings carry the types
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False  # skorch/torch docstrings are not numpydoc

# -- numpydoc ---------------------------------------------------------------------------------
# numpydoc's own member tables would duplicate autosummary's and point at stub pages that are
# never generated, so they are off; the class template lists the members instead.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- MyST ---------------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# -- HTML -------------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"sk_crnn {release}"
html_static_path = []
html_theme_options = {
    "description": "Convolutional recurrent neural networks for audio, in scikit-learn",
    # Wide enough for the code of the pages and examples (lines of up to 100 characters,
    # the line length of the package) without a horizontal scroll bar.
    "page_width": "1240px",
    "body_max_width": "none",
}


def _skip_metadata_request_methods(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated ``set_*_request`` methods (metadata routing).

    scikit-learn attaches them to each estimator class; their docstrings use its own
    glossary terms and labels, which do not exist in this documentation.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_request_methods)
