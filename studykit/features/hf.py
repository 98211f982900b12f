"""Hugging Face ``transformers`` sequence classifiers as feature extractors (``--model hf:NAME_OR_FOLDER``).

The features of a sentence are the input of the classifier's final ``nn.Linear``, the layer the
paper's decision layers replace, so that Linear reproduces the model's logits from the features:

* BERT-style (``BertForSequenceClassification``: ``bert`` -> pooled ``[CLS]`` (``pooler.dense`` + tanh)
  -> dropout -> ``classifier``): the pooled output;
* RoBERTa-style (``RobertaForSequenceClassification``, also ELECTRA, XLM-R: ``classifier`` is a head
  ``<s>`` -> dense -> tanh -> ``out_proj``): the head's dense layer after tanh, the input of ``out_proj``;
* DistilBERT (``pre_classifier`` -> ReLU -> ``classifier``): the ReLU output.

The model runs in eval mode (dropout off) on sentences tokenized in batches, padded to the longest
sentence of the batch and truncated at ``max_length`` tokens. Needs the optional package
``transformers`` (``pip install 'studykit[text]'``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

PREFIX = "hf:"


class HFClassifier:
    """A loaded sequence classifier: call it on sentences for ``(features, logits)``.

    Attributes
    ----------
    model, tokenizer : the transformers objects; head_name : str, the final Linear's module name;
    head : nn.Linear; classes : tuple of str, from the config's ``id2label``.
    """

    def __init__(self, model: nn.Module, tokenizer, name: str, max_length: int | None = None):
        self.model, self.tokenizer, self.name = model.eval(), tokenizer, name
        linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise ValueError(f"{name}: the model has no nn.Linear classification head")
        self.head_name, self.head = linears[-1]
        labels = getattr(model.config, "id2label", None) or {}
        n = self.head.out_features
        self.classes = tuple(str(labels.get(i, labels.get(str(i), f"LABEL_{i}"))) for i in range(n))
        limit = getattr(tokenizer, "model_max_length", None) or 512
        positions = getattr(model.config, "max_position_embeddings", None) or limit
        self.max_length = max_length or min(limit, positions, 512)
        self._value = None
        self._handle = self.head.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output) -> None:
        self._value = inputs[0]

    @torch.no_grad()
    def __call__(self, sentences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        device = next(self.model.parameters()).device
        batch = self.tokenizer(list(sentences), padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt")
        logits = self.model(**{k: v.to(device) for k, v in batch.items()}).logits
        features = self._value
        if features is None or features.dim() != 2 or features.shape[0] != len(sentences):
            shape = None if features is None else tuple(features.shape)
            raise ValueError(f"{self.name}: the input of {self.head_name} has shape {shape}, not one vector per "
                             f"sentence; this model's head is not a final Linear on a sentence vector")
        return features.float().cpu().numpy(), logits.float().cpu().numpy()

    def info(self) -> dict:
        """What the model is, for ``meta.json``."""
        folder = Path(self.name)
        digest = _folder_digest(folder) if folder.is_dir() else None
        config = self.model.config
        return {"spec": PREFIX + self.name, "weights": str(folder) if folder.is_dir() else self.name,
                "weights_sha256": digest, "normalize": None,
                "info": {"architecture": type(self.model).__name__, "model_type": getattr(config, "model_type", None),
                         "head": self.head_name, "problem_type": getattr(config, "problem_type", None),
                         "max_length": self.max_length, "tokenizer": type(self.tokenizer).__name__}}

    def dense_layer(self):
        """The final Linear as a :class:`~studykit.solver.layers.DecisionLayer` (the store's dense layer)."""
        from studykit.solver.layers import DecisionLayer

        return DecisionLayer.from_linear(self.head, source=f"{PREFIX}{self.name} {self.head_name}",
                                         classes=self.classes)


def load_hf_classifier(name: str, device: str | torch.device = "cpu", max_length: int | None = None) -> HFClassifier:
    """Load ``name`` (a folder written by ``save_pretrained``, or a Hub model name) with its tokenizer."""
    try:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError:
        raise ImportError("hf: models need the optional package transformers: pip install 'studykit[text]'") from None
    name = name.removeprefix(PREFIX)
    bars_were_off = hf_logging.is_progress_bar_enabled() is False
    hf_logging.disable_progress_bar()         # its weight-loading bar; restored below
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model, loading = AutoModelForSequenceClassification.from_pretrained(name, output_loading_info=True)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"hf:{name}: cannot load a sequence classifier and its tokenizer ({first[:200]})") from None
    finally:
        if not bars_were_off:
            hf_logging.enable_progress_bar()
    classifier = HFClassifier(model.to(device), tokenizer, name, max_length)
    fresh = [k for k in loading.get("missing_keys", ()) if k.startswith(classifier.head_name + ".")]
    if fresh:
        raise ValueError(f"hf:{name}: the checkpoint holds no weights for the classification head "
                         f"({', '.join(sorted(fresh)[:2])}); transformers would initialise it at random. It is "
                         f"not a {type(model).__name__} as saved (its own class may define another head)")
    return classifier


def _folder_digest(folder: Path) -> str:
    """SHA-256 over the folder's weight files (name and content), in name order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin", ".pt")):
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
