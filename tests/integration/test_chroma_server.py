"""Retrieval against a real Chroma *server* (`chroma run`, shipped in the chromadb wheel), as in the
docker deployment (`CHROMA_HOST`): vectors are synced over HTTP, found again, and kept by the server
for the next process, which then embeds nothing."""
from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench._server import free_port, stop_process
from retrieval.engine import RetrievalEngine
from retrieval.testing import CountingEmbedder, HashEmbedder, paragraph_units
from settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    exe = shutil.which("chroma") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "chroma")
    if not Path(exe).exists():
        pytest.skip("the chroma CLI is not installed")
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen([exe, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail("chroma server did not start")
                time.sleep(0.2)
        yield port
    finally:
        stop_process(proc)


def test_engine_syncs_to_a_chroma_server_and_reuses_it(chroma_server: int, tmp_path: Path) -> None:
    units = [u for u in paragraph_units() if u.meta["corpus_id"] == "004"]
    settings = Settings(index_dir=tmp_path / "index", chroma_path=tmp_path / "unused", chroma_host="127.0.0.1",
                        chroma_port=chroma_server)
    counter = CountingEmbedder(HashEmbedder())
    first = RetrievalEngine(units, embedder=counter, settings=settings)
    report = first.warm_up()
    assert report.dense is not None and report.dense.embedded == len(units)
    assert first.store is not None and first.store.collection.count() == len(units)
    assert not (tmp_path / "unused").exists()  # nothing embedded on local disk: the server holds it
    target = units[7]
    assert first.search(target.text, k=1, mode="dense")[0].unit.id == target.id

    counter.passages = 0  # another process (a second API worker) starting against the same server
    again = RetrievalEngine(units, embedder=counter, settings=settings).warm_up()
    assert again.dense is not None and again.dense.embedded == 0 and again.dense.unchanged == len(units)
    assert counter.passages == 0
