"""vadkit: a reproducibility library for explainable video anomaly detection with VLMs and LLMs.

Layers (imports point down only):

* ground floor: :mod:`vadkit.data` (annotations, parsers, manifests, video IO, SynthVAD),
  :mod:`vadkit.registry`, :mod:`vadkit.errors`, :mod:`vadkit.io_utils`, :mod:`vadkit.paths`;
* middle: :mod:`vadkit.models` (backends per role, tiny zoo), :mod:`vadkit.metrics`, :mod:`vadkit.plotting`;
* upper: :mod:`vadkit.features` (extraction, cache, provenance), :mod:`vadkit.methods` (one module per paper);
* top: :mod:`vadkit.chapters` (one typed config per book chapter), :mod:`vadkit.pipeline`, :mod:`vadkit.cli`.
"""

__version__ = "0.1.0"
