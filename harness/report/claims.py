"""What the article claimed, and what this suite measured (../shared/reference: "aiohttp vs.
tornado: Performance Benchmarks and Comparisons"; README, "Why these numbers differ").

Each claim compares aiohttp with Tornado; each is put as the ratio the article's figures give
and the same ratio from the newest default-environment run: aiohttp's speed over Tornado's
(above 1: aiohttp faster), with the benchmark that measures it. Records only: frameworks.html
(harness/report/page.py) draws them under the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.report.formatting import escape as _e
from harness.report.results import BenchmarkCase, Run, usable


@dataclass(frozen=True)
class Claim:
    key: str
    claim: str  # the article's words, shortened
    article_ratio: float | None  # aiohttp's speed over Tornado's from the article's own figures
    article_figures: str
    benchmark: str  # as harness.report.results.workloads names it
    method: str  # the tracked or timed method: smaller is faster
    aiohttp: str  # the benchmark's parameter that stands for each side
    tornado: str
    evidence: str  # what the benchmark measures, for readers


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "ws_job",
        "aiohttp processed about 21 % more WebSocket messages per second than Tornado",
        813.21 / 671.42,
        "813 vs 671 messages/s",
        "bench_websocket.ArticleWorkload",
        "track_time_per_op",
        "aiohttp",
        "tornado",
        "the article's own job (1,000 connections x 100 messages, set-up inside the timing), "
        "servers in their own processes",
    ),
    Claim(
        "ws_steady",
        "(the same claim, at steady state)",
        813.21 / 671.42,
        "813 vs 671 messages/s",
        "bench_websocket.EchoText32B",
        "track_time_per_op",
        "aiohttp",
        "tornado",
        "32 B echo on 100 open connections after warm-up, server saturated",
    ),
    Claim(
        "json_encode",
        "Tornado serializes JSON about twice as fast as aiohttp",
        6.6087 / 13.2391,
        "13.2 vs 6.6 s for 10,000",
        "bench_json.Encode31KB",
        "time_encode",
        "aiohttp.web.json_response",
        "tornado.escape.json_encode",
        "each framework's own JSON helper on the article's 31 KB document, in-process",
    ),
    Claim(
        "json_decode",
        "Tornado deserializes JSON about twice as fast as aiohttp",
        4.5010 / 10.6222,
        "10.6 vs 4.5 s for 10,000",
        "bench_json.Decode31KB",
        "time_decode",
        "aiohttp request.json()",
        "tornado.escape.json_decode",
        "each framework's own JSON parsing on the article's 31 KB document, in-process",
    ),
    Claim(
        "json_round_trip",
        "HTTP JSON round trips are very close, aiohttp slightly ahead",
        199.5136 / 192.3151,
        "192.3 vs 199.5 s for 10,000 requests",
        "bench_http.ArticleJsonRoundTrip",
        "track_time_per_request",
        "aiohttp",
        "tornado",
        "the article's sequential POSTs of its 31 KB document, one at a time",
    ),
    Claim(
        "json_post_load",
        "(the same claim, under load)",
        199.5136 / 192.3151,
        "192.3 vs 199.5 s for 10,000 requests",
        "bench_http.PostJsonEcho · 31KB · stdlib",
        "track_time_per_op",
        "aiohttp",
        "tornado",
        "its 31 KB document echoed on 16 connections, server saturated",
    ),
    Claim(
        "cache",
        "aiohttp needs a third-party cache (aiocache); Tornado's is a dictionary",
        None,
        "no figures",
        "bench_cache.CacheHitMemory",
        "track_time_per_op",
        "aiohttp",
        "tornado",
        "a cache hit on each framework's cache as the article wrote it",
    ),
)


@dataclass(frozen=True)
class Finding:
    claim: Claim
    measured: float | None  # aiohttp's speed over Tornado's in the run; None: not measured there
    workload: BenchmarkCase | None


def findings(run: Run, found: Mapping[str, BenchmarkCase]) -> list[Finding]:
    """Each claim with this run's figure (None where the run did not measure it)."""
    out = []
    for claim in CLAIMS:
        workload = found.get(claim.benchmark)
        measured = None
        if workload is not None and run.measured(workload, claim.method):
            aiohttp = run.value(workload, claim.method, claim.aiohttp)
            tornado = run.value(workload, claim.method, claim.tornado)
            if usable(aiohttp) and usable(tornado) and aiohttp > 0:
                measured = tornado / aiohttp
        out.append(Finding(claim, measured, workload))
    return out


def verdict_word(finding: Finding) -> str:
    """Whether the measurement bears the claim out: same side and within a quarter, or not."""
    article, measured = finding.claim.article_ratio, finding.measured
    if measured is None:
        return "not measured"
    if article is None:
        return f"aiohttp {'faster' if measured >= 1 else 'slower'}"
    if (article >= 1) != (measured >= 1):
        return "contradicted"
    return "borne out" if 0.8 <= measured / article <= 1.25 else "same side, different size"


def html_table(found: list[Finding], link: Mapping[str, str]) -> str:
    """The claims as an HTML table; ``link`` maps a claim's key to its evidence's address."""
    rows = [
        '<table class="claims"><thead><tr><th>the article claimed</th><th>its figures</th>'
        "<th>aiohttp ÷ Tornado, article</th><th>aiohttp ÷ Tornado, measured</th><th>so</th>"
        "<th>evidence</th></tr></thead><tbody>"
    ]
    for f in found:
        article = "—" if f.claim.article_ratio is None else f"{f.claim.article_ratio:.2f}×"
        measured = "—" if f.measured is None else f"{f.measured:.2f}×"
        href = link.get(f.claim.key)
        evidence = _e(f.claim.benchmark)
        if href:
            evidence = f'<a href="{_e(href)}">{evidence}</a>'
        rows.append(
            f'<tr data-claim="{f.claim.key}"><td>{_e(f.claim.claim)}</td><td>{_e(f.claim.article_figures)}</td>'
            f"<td>{article}</td><td>{measured}</td><td>{_e(verdict_word(f))}</td>"
            f"<td>{evidence}<br><small>{_e(f.claim.evidence)}</small></td></tr>"
        )
    rows.append("</tbody></table>")
    return "".join(rows)
