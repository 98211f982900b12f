"""Hugging Face sequence classifiers through the CLI: features are the head's input, the dense layer its logits.

Tiny randomly initialised models saved to a folder (never the Hub): BERT, RoBERTa and DistilBERT heads.
"""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from studykit.cli import main
from studykit.features import FeatureStore
from studykit.features.images import row_source

transformers = pytest.importorskip("transformers")

WORDS = "a an the good bad movie film plot was is not very fun dull great ride awful".split()
SENTENCES = ["a good movie", "the plot was dull", "not very fun", "a great ride", "an awful film",
             "the film is good", "bad", "a very very good movie , great plot", "dull dull dull",
             "not bad", "the ride was fun", "great"]
LABELS = ["positive", "negative", "0", "1", "negative", "positive", "0", "1", "0", "1", "1", "positive"]


def _bert_tokenizer():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ","] + WORDS
    return transformers.BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})


def _roberta_tokenizer():
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    chars = [chr(c) for c in range(33, 127)] + ["\u0120"]
    vocab = {t: i for i, t in enumerate(specials + chars + ["\u0120g", "oo"])}
    return transformers.RobertaTokenizer(vocab=vocab, merges=[("\u0120", "g"), ("o", "o")])


LABEL_NAMES = {"id2label": {0: "negative", 1: "positive"}, "label2id": {"negative": 0, "positive": 1}}
SMALL = {"num_hidden_layers": 2, "num_attention_heads": 2, "hidden_size": 16, "intermediate_size": 32,
         "max_position_embeddings": 64}


def _bert(tokenizer):
    config = transformers.BertConfig(vocab_size=len(tokenizer), **SMALL, **LABEL_NAMES)
    return transformers.BertForSequenceClassification(config)


def _roberta(tokenizer):
    config = transformers.RobertaConfig(vocab_size=len(tokenizer), pad_token_id=1, **SMALL, **LABEL_NAMES)
    return transformers.RobertaForSequenceClassification(config)


def _distilbert(tokenizer):
    config = transformers.DistilBertConfig(vocab_size=len(tokenizer), dim=16, n_layers=1, n_heads=2, hidden_dim=32,
                                           max_position_embeddings=64, **LABEL_NAMES)
    return transformers.DistilBertForSequenceClassification(config)


def _bert_features(model, batch):          # the pooled [CLS] output
    return model.bert(**batch).pooler_output


def _roberta_features(model, batch):       # <s> -> head.dense -> tanh, the input of out_proj
    return torch.tanh(model.classifier.dense(model.roberta(**batch).last_hidden_state[:, 0]))


def _distilbert_features(model, batch):    # [CLS] -> pre_classifier -> ReLU
    return torch.relu(model.pre_classifier(model.distilbert(**batch).last_hidden_state[:, 0]))


MODELS = {"bert": (_bert_tokenizer, _bert, _bert_features, "classifier"),
          "roberta": (_roberta_tokenizer, _roberta, _roberta_features, "classifier.out_proj"),
          "distilbert": (_bert_tokenizer, _distilbert, _distilbert_features, "classifier")}


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_cli_features_are_the_heads_input_and_the_dense_layer_gives_the_logits(kind, tmp_path):
    make_tokenizer, make_model, reference, head = MODELS[kind]
    torch.manual_seed(0)
    tokenizer = make_tokenizer()
    model = make_model(tokenizer).eval()
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    csv = tmp_path / "reviews.csv"
    rows = [{"sentence": s, "sentiment": label} for s, label in zip(SENTENCES, LABELS)]
    import pandas as pd

    pd.DataFrame(rows).to_csv(csv, index=False)
    args = ["features", "extract", "--model", f"hf:{tmp_path / 'model'}", "--data", str(csv), "--out",
            str(tmp_path / "fs"), "--text-column", "sentence", "--label-column", "sentiment", "--batch-size", "5",
            "--val-fraction", "0.25", "--device", "cpu"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(tmp_path / "fs")
    assert store.classes == ("negative", "positive") and store.n_features == 16
    assert store.meta["layer"] == f"input of {head}" and store.meta["model"]["info"]["head"] == head
    for split in ("train", "val"):
        X, y = store.split(split)
        index = np.load(tmp_path / "fs" / f"{split}_index.npy")
        sentences = [SENTENCES[i] for i in index]
        assert [row_source(store, split, r) for r in range(len(y))] == sentences
        expected = [{"negative": 0, "positive": 1}.get(LABELS[i], None) for i in index]
        assert y.tolist() == [int(LABELS[i]) if e is None else e for i, e in zip(index, expected)]
        with torch.no_grad():                   # one sentence at a time: no padding at all
            direct = [(reference(model, tokenizer([s], return_tensors="pt")).numpy()[0],
                       model(**tokenizer([s], return_tensors="pt")).logits.numpy()[0]) for s in sentences]
        features, logits = (np.stack(part) for part in zip(*direct))
        np.testing.assert_allclose(X, features, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.load(tmp_path / "fs" / f"{split}_logits.npy"), logits, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(store.dense_layer().decision_function(np.asarray(X)), logits,
                                   rtol=1e-5, atol=1e-5)
    assert len(store.split("train")[1]) == 9 and len(store.split("val")[1]) == 3


def test_text_data_errors_name_the_file_row_and_column(tmp_path):
    torch.manual_seed(0)
    tokenizer = _bert_tokenizer()
    _bert(tokenizer).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("text,label\na good movie,positive\nbad,neutral\n")
    base = ["features", "extract", "--model", f"hf:{tmp_path / 'model'}", "--out", str(tmp_path / "fs")]
    bad = CliRunner().invoke(main, base + ["--data", str(tmp_path / "data")])
    assert bad.exit_code == 1
    assert bad.output.strip() == f"Error: {tmp_path / 'data' / 'train.csv'}:3: label 'neutral' is not a class"
    column = CliRunner().invoke(main, base + ["--data", str(tmp_path / "data"), "--text-column", "review"])
    assert "no column 'review' (columns: text, label)" in column.output and column.exit_code == 1
    missing = CliRunner().invoke(main, base[:3] + [f"hf:{tmp_path / 'nothing'}", "--data", str(tmp_path / "data"),
                                                   "--out", str(tmp_path / "fs")])
    assert missing.exit_code == 1 and "cannot load a sequence classifier" in missing.output
    assert len(missing.output.strip().splitlines()) == 1


def test_a_folder_with_train_and_test_files_and_meta(tmp_path):
    torch.manual_seed(0)
    tokenizer = _bert_tokenizer()
    _bert(tokenizer).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.tsv").write_text("sentence\tlabel\n" + "".join(
        f"{s}\t{i % 2}\n" for i, s in enumerate(SENTENCES)))
    (tmp_path / "data" / "test.csv").write_text('text,label\n"a good, fun movie",1\nawful,0\n')
    result = CliRunner().invoke(main, ["features", "extract", "--model", f"hf:{tmp_path / 'model'}", "--data",
                                       str(tmp_path / "data"), "--out", str(tmp_path / "fs"), "--text-column",
                                       "sentence", "--limit", "5"])
    assert result.exit_code == 1 and "test.csv: no column 'sentence'" in result.output
    (tmp_path / "data" / "test.csv").write_text('sentence,label\n"a good, fun movie",1\nawful,0\n')
    result = CliRunner().invoke(main, ["features", "extract", "--model", f"hf:{tmp_path / 'model'}", "--data",
                                       str(tmp_path / "data"), "--out", str(tmp_path / "fs"), "--text-column",
                                       "sentence"])
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(tmp_path / "fs")
    meta = json.loads((tmp_path / "fs" / "meta.json").read_text())
    assert meta["model"]["spec"] == f"hf:{tmp_path / 'model'}" and len(meta["model"]["weights_sha256"]) == 64
    assert meta["model"]["info"]["architecture"] == "BertForSequenceClassification"
    assert row_source(store, "test", 0) == "a good, fun movie" and store.split("test")[1].tolist() == [1, 0]
    assert meta["splits"]["train"]["rows"] + meta["splits"]["val"]["rows"] == len(SENTENCES)
    from studykit.interpret.text import load_encoder       # word clouds encode with the same features

    X, _ = store.split("test")
    np.testing.assert_allclose(load_encoder(f"hf:{tmp_path / 'model'}")(["a good, fun movie", "awful"]), X,
                               rtol=1e-5, atol=1e-5)


def test_a_checkpoint_without_the_head_is_refused(tmp_path):
    """A model saved without the sequence-classification head (e.g. a custom head class): never a random head."""
    torch.manual_seed(0)
    tokenizer = _bert_tokenizer()
    model = _bert(tokenizer)
    model.bert.save_pretrained(tmp_path / "encoder")          # a BertModel: no classifier.* weights
    tokenizer.save_pretrained(tmp_path / "encoder")
    from studykit.features.hf import load_hf_classifier

    with pytest.raises(ValueError, match=r"holds no weights for the classification head \(classifier.bias, "
                                         r"classifier.weight\)"):
        load_hf_classifier(f"hf:{tmp_path / 'encoder'}")
