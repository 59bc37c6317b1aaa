"""Recipes: the glue between one method family in :mod:`vadkit.methods` and the experiment layer.

A recipe turns a chapter's config into the runner's :class:`~vadkit.experiment.runner.Method` (data -> tensors ->
the method -> :class:`~vadkit.experiment.types.VideoPrediction`) and builds the method's tables. Chapters import
recipes, never each other; recipes import :mod:`vadkit.methods` and the rest of :mod:`vadkit.experiment`.

* :mod:`.vad_llama` - VAD-LLaMA's three phases on frozen clip features, its tables and dialogue (chapter 10);
* :mod:`.dual_branch` - VadCLIP's dual-branch network on frozen CLIP snippet features (chapters 11 and 12);
* :mod:`.ex_vad` - Ex-VAD's text pipeline (AEGM, LAAM) on top of :mod:`.dual_branch` (chapter 12);
* :mod:`.mllm_evad` - MLLM-EVAD's units, descriptions, nominal bank, fusion, contrast and tables (chapter 14).
"""
