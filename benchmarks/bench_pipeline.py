"""Benchmark: the whole pipeline through the CLI, as a user runs it, beside bare trafilatura.

In: the 181 real pages of ../shared/data/pages (gzipped HTML, gold text in ``ground-truth.json``).
A loopback HTTP server serves them and an RSS feed listing them ``--rounds`` times under distinct
URLs; ``wirewatch run --once`` polls that feed in a fresh data directory (config: the feed, loopback
allowed, a watched story and a topic subscriber, so that every stage works). The start-up is
cancelled by difference: a second run over one round is subtracted. A run over an empty feed, first,
gives the start-up alone, model training included; the runs after it get its trained model in their
fresh data directories, because training takes 3 to 15 s depending on the machine's load and would
otherwise not cancel out.

Out, each figure beside its baseline measured in the same run:
- articles/s end to end, beside bare ``trafilatura.extract(html)`` (default settings) on the same
  pages in a pool of 2 processes and in one process, and the ratios;
- token F1 (bag of words) of the archived texts against the gold bodies, beside bare ``extract``'s;
- the start-up of ``run --once`` (an empty feed), beside the one-round run's wall time;
- per stage: the workers' busy seconds from the run's own statistics, and the CPU per article of
  each stage in one process (``--top N``: the extract stage's hottest functions under cProfile);
- with ``--hostile``, one more full run whose feed also lists, in each round, a page of a slow-loris server
  (another loopback address), and on the site of the others a gzip bomb, a page over the size limit and a
  4.5 MB page under it: when the normal articles were archived
  with the mix and without (the fastest full run), and what became of each hostile page;
- with ``--before PATH`` (an older checkout's ``wirewatch`` script, in its own venv), every run above for that
  command too, alternated with this one's, and both stage profiles, each in fresh processes (this script under
  the python beside each command), alternated, the fastest of ``--repeat``.

Run (about two and a half minutes on 2 quiet cores; `--top 12` adds a cProfile listing):

    .venv/bin/python benchmarks/bench_pipeline.py [--rounds 3] [--repeat 2] [--shared ../shared] [--top 12]
                                                  [--hostile] [--wirewatch PATH] [--before PATH]
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import json
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

import trafilatura
from pipeline_hostile import ON_ITS_OWN_SERVER, hostile_pages, hostile_path, hostile_report
from process_tree_cpu import TreeCpu
from wirewatch.process.extraction_quality import token_f1

from wirewatch.devtools.render import Item, rss_feed
from wirewatch.devtools.site import LoopbackSite, Resource

_SCRIPT = Path(sys.executable).with_name("wirewatch")  # the command a user runs
BARE_CPU_MS = 0.0  # CPU per page of bare extract in one process, set by bare_extract
WIREWATCH = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "wirewatch.app.cli"]
SEED = ("Negotiators from Ukraine and Russia met in Doha under Qatari mediation to discuss a halt to strikes "
        "on energy infrastructure: power plants, substations and refineries.")


@dataclass(frozen=True)
class Page:
    id: str
    html: bytes
    gold: str
    url: str  # where the page was taken from


def load_pages(shared: Path) -> list[Page]:
    folder = shared / "data" / "pages"
    if not (folder / "ground-truth.json").is_file():
        print(f"skipped: no pages at {folder} (pass --shared; the real pages are not part of the repository)")
        sys.exit(0)
    gold = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for path in sorted((folder / "html").glob("*.html.gz")):
        key = path.name.split(".")[0]
        pages.append(Page(key, gzip.decompress(path.read_bytes()), gold[key]["articleBody"], gold[key]["url"]))
    return pages


def _bare(html: bytes) -> str:
    return trafilatura.extract(html) or ""


def bare_extract(pages: list[Page], rounds: int, processes: int) -> tuple[float, list[str]]:
    """Seconds (wall; CPU for one process) for bare ``trafilatura.extract`` over the pages ``rounds`` times,
    and one round's texts."""
    htmls = [p.html for p in pages] * rounds
    if processes == 1:
        _bare(pages[0].html)  # imports and lazy tables, as a warm pool has them
        start, cpu = time.perf_counter(), time.process_time()
        texts = [_bare(h) for h in htmls]
        global BARE_CPU_MS
        BARE_CPU_MS = (time.process_time() - cpu) / len(htmls) * 1000
        return time.perf_counter() - start, texts[:len(pages)]
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(_bare, [p.html for p in pages[:processes * 2]]))  # start and warm every worker
        start = time.perf_counter()
        texts = list(pool.map(_bare, htmls, chunksize=4))
        return time.perf_counter() - start, texts[:len(pages)]


def page_path(rnd: int, page: Page) -> str:
    return f"/r{rnd}/{page.id}.html"


def serve(site: LoopbackSite, pages: list[Page], rounds: int, feed: str,
          hostile: dict[str, Resource] | None = None, elsewhere: LoopbackSite | None = None) -> str:
    """Put the pages on the site under round-specific paths and a feed listing them (each round also lists
    the hostile pages, if given, under round-specific paths, those of a server of their own on ``elsewhere``);
    the feed's URL."""
    items = []
    for rnd in range(rounds):
        round_items = []
        for n, page in enumerate(pages):
            site.resources[page_path(rnd, page)] = Resource(page.html)
            round_items.append(Item(url=site.url(page_path(rnd, page)), title=f"Page {n} of round {rnd}",
                                    body=[], published=f"2024-08-{1 + n % 28:02d}T{rnd:02d}:00:00Z",
                                    summary="A short summary from the feed."))
        for k, (path, res) in enumerate((hostile or {}).items()):
            at = hostile_path(rnd, path)
            server = elsewhere if elsewhere is not None and path in ON_ITS_OWN_SERVER else site
            server.resources[at] = res
            round_items.insert(k * len(round_items) // 4,  # spread among the round's pages
                               Item(url=server.url(at), title=f"Hostile page {k} of round {rnd}", body=[],
                                    published=f"2024-08-{1 + k:02d}T{rnd:02d}:30:00Z",
                                    summary="A short summary from the feed."))
        items.extend(round_items)
    site.resources[feed] = Resource(rss_feed("bench", site.url("/"), items), "application/rss+xml")
    return site.url(feed)


def write_config(folder: Path, feed_url: str) -> Path:
    config = folder / "wirewatch.toml"
    config.write_text(f"""data_dir = "{folder / 'data'}"
[http]
allow_networks = ["127.0.0.0/8"]
[[feeds]]
url = "{feed_url}"
[[watches]]
id = "doha-energy-talks"
name = "Ukraine-Russia talks in Doha on halting energy strikes"
seed_text = "{SEED}"
topics = ["ceasefire_talks", "energy_strikes"]
[[subscribers]]
email = "bench@example.org"
watches = ["doha-energy-talks"]
topics = {{ ceasefire_talks = 0.5, energy_strikes = 0.5 }}
""", encoding="utf-8")
    return config


@dataclass
class CliRun:
    seconds: float
    cpu: dict[str, float]  # CPU seconds by process role, sampled (Linux)
    stats: dict  # type: ignore[type-arg]
    data_dir: Path
    log: list[str]
    started: float  # epoch seconds, as the archive's timestamps


def cli_run(site: LoopbackSite, pages: list[Page], rounds: int, tmp: Path, name: str,
            model: Path | None = None, hostile: dict[str, Resource] | None = None,
            elsewhere: LoopbackSite | None = None, command: list[str] | None = None) -> CliRun:
    folder = tmp / name
    (folder / "data").mkdir(parents=True)
    if model is not None:  # the model trained by an earlier run: its training time varies with load, by seconds
        shutil.copy(model, folder / "data" / model.name)
    config = write_config(folder, serve(site, pages, rounds, f"/{name}.xml", hostile, elsewhere))
    started, start = time.time(), time.perf_counter()
    proc = subprocess.Popen([*(command or WIREWATCH), "--config", str(config), "run", "--once"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=folder)
    tree = TreeCpu(proc.pid) if Path("/proc/self/stat").exists() else None
    _, stderr = proc.communicate(timeout=900)
    seconds = time.perf_counter() - start
    cpu = tree.stop() if tree is not None else {}
    if proc.returncode != 0:
        sys.exit(f"wirewatch run --once failed ({proc.returncode}):\n{stderr[-3000:]}")
    lines = stderr.strip().splitlines()
    return CliRun(seconds, cpu, json.loads(lines[-1]), folder / "data", lines[:-1], started)


def archived(run: CliRun) -> dict[str, dict]:  # type: ignore[type-arg]
    """The archived articles of a run by URL path, each with ``archived_after``: seconds from the run's start."""
    from wirewatch.alerts.alert_store import AlertStore

    store = AlertStore.open(f"sqlite:///{run.data_dir / 'wirewatch.db'}")
    try:
        rows = store.recent_archive(100_000)
    finally:
        store.close()
    out = {}
    for row in rows:
        tagged = json.loads(row["tagged_json"])
        article = tagged["article"]
        at = row["archived_at"]
        at = at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite keeps no zone; the stage writes UTC
        article["archived_after"] = at.timestamp() - run.started
        out[article["entry"]["url"].split("/", 3)[3]] = article
    return out


def stage_profile(pages: list[Page], tmp: Path, top: int) -> tuple[dict[str, float], str, tuple[float, float]]:
    """CPU ms per article of each stage in this process, the extract stage's hottest functions, and the model's
    training (wall and CPU seconds, scikit-learn's import included)."""
    from wirewatch.alerts.alert_store import AlertStore
    from wirewatch.alerts.stage import build_alerter
    from wirewatch.process.extractor import assemble, extract_html
    from wirewatch.process.stage import build_classifier

    from wirewatch.config import Settings
    from wirewatch.schema import Entry

    settings = Settings.model_validate({"data_dir": str(tmp / "profile"), "subscribers": [
        {"email": "bench@example.org", "topics": {"ceasefire_talks": 0.5, "energy_strikes": 0.5}}]})
    settings.data_path.mkdir(parents=True)
    entries = [Entry(article_id=f"p{n}", url=f"https://bench.test/{p.id}", canonical_url="", feed_url="bench",
                     title=f"Page {n}", summary="A short summary from the feed.",
                     published="2024-08-01T00:00:00+00:00") for n, p in enumerate(pages)]
    cpu: dict[str, float] = {}
    extract_html(pages[0].html, entries[0].url)  # imports and lazy tables
    start = time.process_time()
    articles = [assemble(e, extract_html(p.html, e.url, not e.published), "", settings.extract)  # as the stage does
                for e, p in zip(entries, pages, strict=True)]
    cpu["extract"] = time.process_time() - start
    profiler = cProfile.Profile()
    listing = ""
    if top:
        profiler.enable()
        for e, p in zip(entries, pages, strict=True):
            assemble(e, extract_html(p.html, e.url, not e.published), "", settings.extract)
        profiler.disable()
        stream = __import__("io").StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(top)
        listing = stream.getvalue()
    start, start_cpu = time.perf_counter(), time.process_time()
    classifier = build_classifier(settings)  # trains the model: the data dir has none
    assert classifier.model is not None  # waits for a model trained in the background
    training = (time.perf_counter() - start, time.process_time() - start_cpu)
    classifier.handle_batch(articles[:2])
    start = time.process_time()
    tagged = [out[0].message for out in classifier.handle_batch(articles)]
    cpu["classify"] = time.process_time() - start
    store = AlertStore.open(settings.database_url)
    try:
        alerter = build_alerter(settings, store)
        start = time.process_time()
        for t in tagged:
            alerter.handle(t)
        alerter.flush()
        cpu["alert"] = time.process_time() - start
    finally:
        store.close()
    return {k: v / len(pages) * 1000 for k, v in cpu.items()}, listing, training


@dataclass
class Runs:
    """What one command did in a script run: the empty run, the fastest full and one-round runs."""

    empty: CliRun
    fulls: list[CliRun]
    ones: list[CliRun]
    hostile: list[str] = field(default_factory=list)  # the report of a run with the hostile mix (--hostile)

    @property
    def full(self) -> CliRun:
        return min(self.fulls, key=lambda r: r.seconds)

    @property
    def one(self) -> CliRun:
        return min(self.ones, key=lambda r: r.seconds)


def run_commands(site: LoopbackSite, pages: list[Page], args: argparse.Namespace, tmp: Path,
                 commands: dict[str, list[str]]) -> dict[str, Runs]:
    """Each command's runs, alternated between the commands and between the sizes, so that a busy spell of
    the machine hits all of them; each command's sized runs get the model its own empty run trained."""
    empties = {label: cli_run(site, pages, 0, tmp, f"empty-{label}", command=cmd) for label, cmd in commands.items()}
    runs = {label: Runs(empty, [], []) for label, empty in empties.items()}
    for i in range(args.repeat):
        for size, name in ((args.rounds, "full"), (1, "one")):
            for label, cmd in commands.items():
                run = cli_run(site, pages, size, tmp, f"{name}{i}-{label}", runs[label].empty.data_dir / "model.joblib",
                              command=cmd)
                (runs[label].fulls if name == "full" else runs[label].ones).append(run)
    if args.hostile:
        mix = hostile_pages([p.gold for p in pages], pages[0].html)
        with LoopbackSite(host="127.0.0.2", keep_requests=False) as slow_server:
            for label, cmd in commands.items():
                with_mix = cli_run(site, pages, args.rounds, tmp, f"hostile-{label}",
                                   runs[label].empty.data_dir / "model.joblib", mix, slow_server, cmd)
                runs[label].hostile = hostile_report(
                    {"without": (runs[label].full.seconds, archived(runs[label].full)),
                     "with": (with_mix.seconds, archived(with_mix))},
                    [page_path(r, p) for r in range(args.rounds) for p in pages],
                    [hostile_path(r, m) for r in range(args.rounds) for m in mix])
    return runs


def report(runs: Runs, pages: list[Page], rounds: int, pool_s: float, one_s: float, bare_f1: float) -> list[str]:
    """The figures of one command's runs, beside the baselines of the same script run."""
    full, one, empty, n = runs.full, runs.one, runs.empty, len(pages) * rounds
    texts = archived(runs.fulls[0])
    work = full.seconds - one.seconds
    rate = (n - len(pages)) / work
    pool_rate, one_rate = n / pool_s, n / one_s
    from_page = [a for a in texts.values() if a["text_source"] == "page"]
    f1s = [token_f1(texts.get(page_path(r, p).lstrip("/"), {}).get("text", ""), p.gold)
           for r in range(rounds) for p in pages]
    out = [f"wirewatch run --once, end to end:              {rate:7.1f} articles/s (({full.seconds:.2f} s for {n}) - "
           f"({one.seconds:.2f} s for {len(pages)}); fastest of {len(runs.fulls)}: "
           f"{' '.join(f'{r.seconds:.1f}' for r in runs.fulls)} / {' '.join(f'{r.seconds:.1f}' for r in runs.ones)} s)",
           f"  ratio to the 2-process pool:                 {rate / pool_rate:7.2f}x",
           f"  ratio to one process:                        {rate / one_rate:7.2f}x",
           f"archived: {len(texts)} of {n}; text from the page: {len(from_page)}",
           f"token F1 against the gold bodies: archived {sum(f1s) / len(f1s):.4f} (bare trafilatura.extract "
           f"{bare_f1:.4f})",
           f"start-up: run --once over an empty feed {empty.seconds:.2f} s; one round {one.seconds:.2f} s "
           f"(of which work at the rate above {len(pages) / rate:.2f} s, so start-up and stop "
           f"{one.seconds - len(pages) / rate:.2f} s)"]
    if full.cpu:
        out.append(f"CPU per article of run --once by process ((full - one round) / {n - len(pages)} articles; "
                   "sampled from /proc every 0.2 s):")
        for role in sorted(full.cpu, key=lambda r: -full.cpu[r]):
            per = (full.cpu[role] - one.cpu.get(role, 0.0)) / (n - len(pages)) * 1000
            out.append(f"  {role:66s} {per:6.1f} ms  (start-up alone, empty feed: {empty.cpu.get(role, 0.0):.2f} s)")
        total = (sum(full.cpu.values()) - sum(one.cpu.values())) / (n - len(pages)) * 1000
        out.append(f"  {'all':66s} {total:6.1f} ms  (bare extract, one process: {BARE_CPU_MS:.1f} ms CPU)")
        out.append(f"  CPU ceiling of the ratio to the 2-process pool (bare CPU / pipeline CPU per article): "
                   f"{BARE_CPU_MS / total:.2f}x (load on the machine inflates wall times, much less CPU times)")
    busy = full.stats.get("busy_seconds", {})
    out.append("workers' busy seconds (wall, from the run's statistics, full run): "
               + ", ".join(f"{k} {v:.1f} s = {v / n * 1000:.1f} ms/article" for k, v in busy.items()))
    return out + runs.hostile


def profile_line(profile: dict[str, float], training: tuple[float, ...]) -> str:
    return ("CPU per article by stage, one process (the stage's own code, no Kafka, no HTTP): "
            + ", ".join(f"{k} {v:.1f} ms" for k, v in profile.items())
            + f"; model training {training[0]:.2f} s (CPU {training[1]:.2f} s)")


def profiles(scripts: dict[str, str], args: argparse.Namespace) -> dict[str, tuple[dict[str, float], list[float]]]:
    """Each checkout's stage profile, fastest of ``--repeat`` alternated runs of this script's ``--profile-only``
    under the python beside its wirewatch script (whose ``wirewatch`` package is that checkout's code)."""
    best: dict[str, tuple[dict[str, float], list[float]]] = {}
    for _ in range(args.repeat):
        for label, script in scripts.items():
            python = Path(script).with_name("python")
            out = subprocess.run([str(python), __file__, "--profile-only", "--shared", str(args.shared)],
                                 capture_output=True, text=True, check=True, cwd=Path(__file__).parent)
            profile, training = json.loads(out.stdout.strip().splitlines()[-1])
            old, old_training = best.get(label, (profile, training))
            best[label] = ({k: min(v, old[k]) for k, v in profile.items()},
                           [min(a, b) for a, b in zip(training, old_training, strict=True)])
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="times each page is listed in the feed (distinct URLs)")
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each size; the fastest counts (noise)")
    parser.add_argument("--top", type=int, default=0, help="list the extract stage's N hottest functions (cProfile)")
    parser.add_argument("--hostile", action="store_true", help="also run once with a slow-loris page, a gzip "
                        "bomb, a 20 MB and a 4.5 MB page in each round, and compare the normal articles' timing")
    parser.add_argument("--wirewatch", help="the command to run (default: the wirewatch script beside this "
                        "interpreter; for an older checkout, a script that starts it as its own script did)")
    parser.add_argument("--before", help="also run an older checkout's wirewatch script (its venv's), alternated "
                        "with the command, and print its figures and stage profile beside them")
    parser.add_argument("--profile-only", action="store_true", help=argparse.SUPPRESS)  # for --before's profile
    args = parser.parse_args()
    if args.profile_only:
        with tempfile.TemporaryDirectory() as tmp_name:
            profile, _listing, training = stage_profile(load_pages(args.shared), Path(tmp_name), 0)
        print(json.dumps([profile, training]))
        return
    if args.wirewatch:
        global WIREWATCH
        WIREWATCH = [args.wirewatch]
    commands = {"after": WIREWATCH} if not args.before else {"before": [args.before], "after": WIREWATCH}
    for label, cmd in commands.items():
        print(f"command ({label}): {' '.join(cmd)}" if args.before else f"command: {' '.join(cmd)}")
    if args.rounds < 2:
        sys.exit("--rounds must be at least 2: the start-up is cancelled by subtracting a one-round run")
    pages = load_pages(args.shared)
    n = len(pages) * args.rounds
    pool_s, bare_texts = bare_extract(pages, args.rounds, 2)
    one_s, _ = bare_extract(pages, 1, 1)
    one_s *= args.rounds  # the same pages again cost the same in one process
    with tempfile.TemporaryDirectory() as tmp_name, LoopbackSite(keep_requests=False) as site:
        tmp = Path(tmp_name)
        runs = run_commands(site, pages, args, tmp, commands)
        profile, listing, training = stage_profile(pages, tmp, args.top)
        bare_f1 = sum(token_f1(t, p.gold) for t, p in zip(bare_texts, pages, strict=True)) / len(pages)
        pool_s = min(pool_s, bare_extract(pages, args.rounds, 2)[0])  # the baseline's best too
        print(f"pages: {len(pages)} real pages x {args.rounds} rounds under distinct URLs = {n} articles")
        print(f"bare trafilatura.extract, pool of 2 processes: {n / pool_s:7.1f} articles/s ({pool_s:.2f} s)")
        print(f"bare trafilatura.extract, one process:         {n / one_s:7.1f} articles/s ({one_s:.2f} s)")
        for label, result in runs.items():
            if args.before:
                print(f"--- {label}: {' '.join(commands[label])}")
            print("\n".join(report(result, pages, args.rounds, pool_s, one_s, bare_f1)))
    if args.before:  # in fresh processes, alternated, the fastest of --repeat each: the load moves them
        for label, (stage_cpu, stage_training) in profiles({"before": args.before, "after": str(_SCRIPT)},
                                                            args).items():
            print(f"--- {label} (fastest of {args.repeat}), {profile_line(stage_cpu, tuple(stage_training))}")
    else:
        print(profile_line(profile, training))
    if listing:
        print("extract stage, hottest functions (cProfile, one round, by own time):")
        print("\n".join(line for line in listing.splitlines() if line.strip())[-(args.top + 2) * 200:])


if __name__ == "__main__":
    main()
