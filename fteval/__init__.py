"""fteval: declare fine-tuning and evaluation of language models in one YAML spec."""

from fteval.errors import FtevalError, SpecError
from fteval.spec.loader import LoadedSpec, load_spec

__all__ = ["FtevalError", "LoadedSpec", "SpecError", "__version__", "load_spec"]
__version__ = "0.1.0"
