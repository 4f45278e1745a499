"""Scale benchmark: a synthetic KB of 10,000 articles (5,000 topics in en + es).

Measures, with the real embedding model and the real index/search/reload code:
- full index: parse every file and embed every article into an empty index (what a fresh
  deployment or a model change costs), plus the search structures (TF-IDF per language);
- single-article update: one file edited, then ``ReloadingKnowledgeBase.reload_if_changed``
  (re-parse that file, embed that article, rebuild that language's search state from the
  previous one, swap) - what an editor's save costs before the bot serves it;
- peak memory (``ru_maxrss``) and search latency p50/p95 over 200 queries with the torch threads
  the action server uses (NIVEL0_SEARCH_THREADS, default 1), split into query embedding and
  scoring (percentiles: :mod:`scripts.benchlib`).

Goals (issue): full index <= 120 s on the 2-core machine, update <= 2 s, search p95 <= 30 ms.
Usage: ``.venv/bin/python scripts/bench_scale.py [--articles 10000]`` ->
``var/reports/bench_scale.json``. The machine is shared: the load average is recorded too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.articles import Article, Category, article_path
from knowledge.bands import Calibration
from knowledge.embedding import served_model
from knowledge.reload import ReloadingKnowledgeBase
from knowledge.settings import KnowledgeSettings
from scripts.benchlib import percentiles

PRODUCTS = [
    ("phone", "móvil"),
    ("laptop", "portátil"),
    ("smart TV", "smart TV"),
    ("headphones", "auriculares"),
    ("smartwatch", "reloj inteligente"),
    ("tablet", "tableta"),
    ("camera", "cámara"),
    ("speaker", "altavoz"),
    ("router", "router"),
    ("printer", "impresora"),
    ("game console", "videoconsola"),
    ("e-reader", "libro electrónico"),
    ("monitor", "monitor"),
    ("keyboard", "teclado"),
    ("robot vacuum", "robot aspirador"),
    ("thermostat", "termostato"),
    ("video doorbell", "timbre con vídeo"),
    ("projector", "proyector"),
    ("drone", "dron"),
    ("soundbar", "barra de sonido"),
]
ISSUES = [
    ("won't turn on", "no se enciende"),
    ("battery drains fast", "la batería dura poco"),
    ("screen flickers", "la pantalla parpadea"),
    ("has no sound", "no tiene sonido"),
    ("won't connect to Wi-Fi", "no se conecta al wifi"),
    ("overheats", "se calienta demasiado"),
    ("won't charge", "no carga"),
    ("won't pair over Bluetooth", "no se empareja por Bluetooth"),
    ("firmware update fails", "falla la actualización de firmware"),
    ("restarts by itself", "se reinicia solo"),
    ("is very slow", "va muy lento"),
    ("makes a buzzing noise", "hace un zumbido"),
    ("app does not find it", "la app no lo encuentra"),
    ("buttons do not respond", "los botones no responden"),
    ("shows an error code", "muestra un código de error"),
    ("arrived scratched", "llegó rayado"),
    ("remote does not work", "el mando no funciona"),
    ("loses the connection", "pierde la conexión"),
    ("has dead pixels", "tiene píxeles muertos"),
    ("will not reset", "no se restablece"),
    ("is missing the charger", "no trae el cargador"),
    ("voice assistant fails", "falla el asistente de voz"),
    ("camera is blurry", "la cámara sale borrosa"),
    ("gets stuck on the logo", "se queda en el logo"),
    ("won't update apps", "no actualiza las apps"),
]
QUESTIONS = {
    "en": [
        "my {model} {issue}",
        "what do I do if the {model} {issue}",
        "{model} {issue}, help",
        "the {product} I bought {issue}",
        "why my {product} {model} {issue}",
        "{issue} on {model}",
    ],
    "es": [
        "mi {model} {issue}",
        "qué hago si el {model} {issue}",
        "{model} {issue}, ayuda",
        "el {product} que compré {issue}",
        "por qué mi {product} {model} {issue}",
        "{issue} en el {model}",
    ],
}
TITLE = {"en": "{model} {product} {issue}", "es": "{product} {model}: {issue}"}
SUMMARY = {
    "en": "If your {model} {issue}, restart it, update it and check the {tip}. If it persists "
    "after {days} days, request a warranty repair from My orders.",
    "es": "Si tu {model} {issue}, reinícialo, actualízalo y revisa {tip_es}. Si sigue igual tras "
    "{days} días, pide la reparación en garantía desde Mis pedidos.",
}
TIPS = [("cable", "el cable"), ("settings", "los ajustes"), ("power adapter", "el adaptador")]


def generate(kb_dir: Path, articles: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """Write the synthetic KB; returns (language, topic, one question) per article."""
    rng = random.Random(seed)
    asked = []
    combos = [(p, i) for p in PRODUCTS for i in ISSUES]
    for n in range(articles // 2):
        (product_en, product_es), (issue_en, issue_es) = combos[n % len(combos)]
        model = f"Voltia {rng.choice('ABCDEFGHKMNPRSTVXZ')}{n // len(combos) + 1}"
        topic = f"kb-{n:05d}"
        tip_en, tip_es = rng.choice(TIPS)
        days = rng.choice([2, 3, 5, 7])
        for language, product, issue in (
            ("en", product_en, issue_en),
            ("es", product_es, issue_es),
        ):
            fill = {"model": model, "product": product, "issue": issue}
            questions = [
                q.format(**fill) for q in rng.sample(QUESTIONS[language], rng.randint(3, 5))
            ]
            article = Article.new(
                topic=topic,
                title=TITLE[language].format(**fill),
                language=language,
                category=Category.TROUBLESHOOTING,
                tags=[product, "synthetic"],
                summary=SUMMARY[language].format(**fill, tip=tip_en, tip_es=tip_es, days=days),
                questions=questions,
                updated=dt.date(2026, 11, 25),
                status="published",
                body=f"Intro.\n\n## Steps\n\n1. {questions[0]}.\n\n## Contact\n\nWrite to us.",
            )
            path = article_path(kb_dir, language, topic)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(article.dump(), encoding="utf-8")
            asked.append((language, topic, questions[-1]))
    return asked


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--updates", type=int, default=5)
    parser.add_argument(
        "--index-threads",
        type=int,
        default=2,
        help="torch threads while indexing (2 on an idle 2-core machine; 1 if it is shared)",
    )
    parser.add_argument("--output", default="var/reports/bench_scale.json")
    args = parser.parse_args()

    import torch

    settings = KnowledgeSettings()
    result: dict[str, object] = {
        "articles": args.articles,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_start": os.getloadavg(),
        },
        "goals": {"full_index_s": 120, "single_update_s": 2, "search_p95_ms": 30},
    }
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        kb_dir, index_dir = Path(tmp) / "kb", Path(tmp) / "index"
        started = time.perf_counter()
        asked = generate(kb_dir, args.articles)
        result["generate_s"] = round(time.perf_counter() - started, 2)

        model = served_model(settings)
        result["model"] = model.identity
        result["precision"] = model.precision  # NIVEL0_EMBEDDING_PRECISION (auto: bf16 on AMX)
        result["rss_after_model_mb"] = round(rss_mb(), 1)
        calibration = Calibration.load(settings.calibration, model.identity)

        print(f"indexing {args.articles} articles ...", file=sys.stderr)
        torch.set_num_threads(args.index_threads)
        started = time.perf_counter()
        kb = ReloadingKnowledgeBase(kb_dir, model, index_dir, calibration, interval=0)
        full = time.perf_counter() - started
        report = kb.build_report
        result["full_index"] = {
            "seconds": round(full, 2),
            "embedded_articles": report.embedded,
            "embedded_texts": report.embedded_texts,
            "texts_per_second": round(report.embedded_texts / full, 1),
            "torch_threads": args.index_threads,
            "invalid": len(kb.load_errors),
        }
        print(f"full index {full:.1f} s", file=sys.stderr)

        # a fresh process over an existing index (e.g. bot restart): nothing is embedded
        started = time.perf_counter()
        ReloadingKnowledgeBase(kb_dir, model, index_dir, calibration, interval=0)
        result["warm_start_s"] = round(time.perf_counter() - started, 2)

        updates = []
        rng = random.Random(11)
        for n in range(args.updates):
            language, topic, _ = rng.choice(asked)
            path = kb_dir / language / f"{topic}.md"
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace("questions:\n", f"questions:\n- edit {n} of {topic}\n", 1))
            before = model.encoded_texts
            started = time.perf_counter()
            assert kb.reload_if_changed()
            updates.append(time.perf_counter() - started)
            assert model.encoded_texts - before <= 9  # only the edited article was embedded
        result["single_update"] = {
            "seconds_median": round(statistics.median(updates), 3),
            "seconds_max": round(max(updates), 3),
            "runs": len(updates),
        }
        print(f"update {statistics.median(updates):.2f} s", file=sys.stderr)

        search_threads = settings.limit_search_threads()  # as the action server and help centre
        queries = [rng.choice(asked) for _ in range(args.queries)]
        for language, _, question in queries[:5]:
            kb.search(question, language)  # warm-up
        total, encode, hits = [], [], 0
        for language, topic, question in queries:
            started = time.perf_counter()
            outcome = kb.search(question, language)
            total.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            model.encode_queries([question])
            encode.append((time.perf_counter() - started) * 1000)
            hits += bool(outcome.hits) and outcome.hits[0].article.topic == topic
        search, embedding = percentiles(total), percentiles(encode)
        result["search_ms"] = {
            "p50": round(search[50], 2),
            "p95": round(search[95], 2),
            "max": round(max(total), 2),
            "query_embedding_p50": round(embedding[50], 2),
            "query_embedding_p95": round(embedding[95], 2),
            "queries": len(total),
            "torch_threads": search_threads,
            "top1_is_source_article": round(hits / len(total), 3),
        }
        result["peak_rss_mb"] = round(rss_mb(), 1)
        result["machine"]["load_average_end"] = os.getloadavg()  # type: ignore[index]
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
