"""Benchmark: the topic model's start and its cost per article, plain arrays beside scikit-learn, same run.

In: the bundled training examples and the real texts of ../shared (BBC News, WikiRef220, stories-dev,
news-dev; see ``real_texts.py``). Out: CPU seconds to import and load a saved model in a fresh interpreter
(the stage's start: the plain arrays, and the scikit-learn pipeline as the previous file format held it),
then CPU milliseconds per article to score the real texts in batches of 64 (as the classify stage asks),
both ways in this process, and the largest difference of their probabilities. Run:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_model.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from real_texts import real_texts
from wirewatch.process.model import MAX_MODEL_CHARS, bundled_training_file, document, read_examples, save, train

SHARED = Path(__file__).resolve().parents[2] / "shared"
BATCH = 64


def load_cpu(code: str) -> float:
    """CPU seconds of a fresh interpreter running ``code`` (its start-up without it subtracted)."""
    def run(body: str) -> float:
        out = subprocess.run([sys.executable, "-c", "import time\n" + body +
                              "\nprint(time.process_time())"], capture_output=True, text=True, check=True)
        return float(out.stdout.split()[-1])

    return min(run(code) for _ in range(3)) - min(run("") for _ in range(3))


def per_article(score: object, docs: list[str]) -> float:
    start = time.process_time()
    for i in range(0, len(docs), BATCH):
        score(docs[i:i + BATCH])  # type: ignore[operator]
    return (time.process_time() - start) / len(docs) * 1000


def main() -> None:
    model = train(read_examples(bundled_training_file()))
    assert model.plain is not None and model.pipeline is not None
    with tempfile.TemporaryDirectory() as tmp:
        plain_file, pipeline_file = Path(tmp) / "plain.joblib", Path(tmp) / "pipeline.joblib"
        save(model, plain_file)
        import joblib

        joblib.dump({"format": 1, "meta": model.meta, "topics": model.topics, "pipeline": model.pipeline},
                    pipeline_file)
        plain_load = load_cpu(f"from wirewatch.process.model import load; load({str(plain_file)!r})")
        sk_load = load_cpu(f"import joblib, sklearn; joblib.load({str(pipeline_file)!r})")
    print("import and load a saved model, fresh interpreter, CPU seconds (best of 3):")
    print(f"  scikit-learn pipeline (the previous file format) {sk_load:6.3f} s")
    print(f"  plain arrays (process.plain_model)               {plain_load:6.3f} s")
    texts = real_texts(SHARED)
    if not texts:
        sys.exit(f"no real texts under {SHARED}: the per-article figures need ../shared")
    docs = [document(t.split("\n", 1)[0], t)[:MAX_MODEL_CHARS] for t in texts]
    per_article(model.plain.probabilities, docs[:BATCH])  # warm both (caches, lazy imports)
    per_article(model.pipeline.predict_proba, docs[:BATCH])
    sk = per_article(model.pipeline.predict_proba, docs)
    plain = per_article(model.plain.probabilities, docs)
    plain_again = per_article(model.plain.probabilities, docs)
    gap = float(np.max(np.abs(model.plain.probabilities(docs) - model.pipeline.predict_proba(docs))))
    print(f"score {len(docs)} real texts (first {MAX_MODEL_CHARS} characters), batches of {BATCH}, CPU per article:")
    print(f"  scikit-learn predict_proba                       {sk:6.3f} ms")
    print(f"  plain arrays, first pass / again (words cached)  {plain:6.3f} / {plain_again:.3f} ms")
    print(f"  largest difference of the probabilities          {gap:.1e}")


if __name__ == "__main__":
    main()
