"""Methods: one module per paper or baseline; they take tensors and plain settings, never experiment types.

Training loops use :mod:`vadkit.trainer`; the experiment layer (:mod:`vadkit.experiment`) runs them.


* :mod:`~vadkit.methods.classical` - frame difference and optical-flow baselines (chapter 00);
* :mod:`~vadkit.methods.lgt_adapter` - VadCLIP's local (windowed Transformer) + global (GCN) temporal adapter;
* :mod:`~vadkit.methods.mil` - top-k BCE, MIL-Align CE and the normal/abnormal contrastive loss;
* :mod:`~vadkit.methods.prompt_learning` - learnable prompts, fixed and label-augmented class embeddings;
* :mod:`~vadkit.methods.vadclip` - the dual-branch network shared by VadCLIP and Ex-VAD, its loss and inference;
* :mod:`~vadkit.methods.ex_vad` - Ex-VAD's AEGM (captions -> cleaned captions -> LLM explanation), MADM, LAAM;
* :mod:`~vadkit.methods.vad_llama` - VAD-LLaMA's VADor, the causal LTC/LSTC lists, Sultani's MIL ranking baseline,
  pseudo-instructions and the frozen LM read through an adaptor's soft prompt (chapter 10);
* :mod:`~vadkit.methods.sequences` - snippet-feature sequences: items, padding/sampling, balanced batches;
* :mod:`~vadkit.methods.knn` - kNN banks and their three uses (MLLM-EVAD, LAVAD, VERA);
* :mod:`~vadkit.methods.mllm_evad` - MLLM-EVAD's detection, tracking, single/pair units, cached crop-pair
  descriptions, nominal-bank scores, frame and box scores, fusion (chapter 14);
* :mod:`~vadkit.methods.flops` - parameters / MACs / time per frame (Ex-VAD Table 7).
"""
