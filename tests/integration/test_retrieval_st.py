"""The sentence-transformers backend loads a local model directory offline.

The model is a tiny randomly initialised BERT with a WordPiece vocabulary written by the test, so
nothing is downloaded; it checks the loading code path, not embedding quality.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.embedders import EmbedderError, SentenceTransformerEmbedder, make_embedder
from settings import Settings

pytest.importorskip("sentence_transformers")
pytestmark = pytest.mark.integration  # a real model on PyTorch (the optional `st` extra)

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "thủ", "tục", "hành", "chính", "cải", "cách",
         "kế", "hoạch", "sổ", "đỏ", "căn", "cước", "query", "passage", ":"]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny")
    hf_dir, st_dir = root / "hf", root / "st-tiny"
    hf_dir.mkdir()
    (hf_dir / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(VOCAB)}, do_lower_case=True,
                                  strip_accents=False)
    assert "[UNK]" not in tokenizer.tokenize("query: sổ đỏ")
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    BertModel(config).save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    word = models.Transformer(str(hf_dir), max_seq_length=32)
    pooling = models.Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(st_dir))
    return st_dir


def test_loads_local_model_and_embeds_normalised(tiny_model_dir: Path) -> None:
    emb = SentenceTransformerEmbedder(tiny_model_dir)
    assert emb.dim == 16
    q = emb.embed_queries(["thủ tục hành chính"])
    p = emb.embed_passages(["kế hoạch cải cách hành chính", "sổ đỏ"])
    assert q.shape == (1, 16) and p.shape == (2, 16) and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-5)
    # Query and passage prefixes differ, so the same text embeds differently.
    assert not np.allclose(emb.embed_queries(["sổ đỏ"]), emb.embed_passages(["sổ đỏ"]))
    assert emb.name.startswith("st-st-tiny-")


def test_settings_select_the_backend(tiny_model_dir: Path) -> None:
    emb = make_embedder(Settings(embedding_backend="sentence-transformers", embedding_model=str(tiny_model_dir)))
    assert isinstance(emb, SentenceTransformerEmbedder)
    assert make_embedder(Settings(embedding_backend="none")) is None


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="local directory"):
        SentenceTransformerEmbedder(tmp_path / "absent")
    with pytest.raises(EmbedderError, match="EMBEDDING_MODEL"):
        make_embedder(Settings(embedding_backend="sentence-transformers", embedding_model=None))
    with pytest.raises(EmbedderError, match="unknown"):
        make_embedder(Settings(embedding_backend="word2vec"))


def test_engine_runs_dense_search_on_the_tiny_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    from retrieval.engine import RetrievalEngine
    from retrieval.types import Unit

    units = [Unit(id=f"u{i}", kind="plan_section", source="p", title="t", locator=f"L{i}", text=t)
             for i, t in enumerate(["thủ tục hành chính", "sổ đỏ", "căn cước"])]
    emb = SentenceTransformerEmbedder(tiny_model_dir)
    eng = RetrievalEngine(units, embedder=emb, settings=Settings(index_dir=tmp_path / "i", chroma_path=tmp_path / "c"))
    hits = eng.search("căn cước", k=3, mode="dense")
    assert len(hits) == 3 and {h.unit.id for h in hits} == {"u0", "u1", "u2"}
