"""The driver's measuring suites: per-chunk overhead, time to first token, memory (paired per round)."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks._common import rotate, summary
from benchmarks.procs import Fleet, log


def _paired(per_round: dict[str, list[float]], base: str = "raw") -> dict[str, dict[str, Any]]:
    """Per variant: summary of its values, and of its paired difference / ratio against ``base``."""
    out: dict[str, dict[str, Any]] = {}
    ref = per_round.get(base, [])
    for v, vals in per_round.items():
        entry: dict[str, Any] = {"value": summary(vals)}
        if v != base and ref and len(ref) == len(vals):
            diffs = [a - b for a, b in zip(vals, ref)]
            ratios = [a / b for a, b in zip(vals, ref) if b]
            entry["added"] = summary(diffs)
            entry["ratio"] = summary(ratios, 4)
            entry["overhead_pct"] = round((statistics.median(ratios) - 1) * 100, 2)
        out[v] = entry
    return out


def suite_overhead(fleet: Fleet, plan: list[tuple[str, int, int]]) -> dict[str, Any]:
    """µs per chunk: one long stream per variant per round, sync and async, per (mode, chunks, rounds)."""
    results: dict[str, Any] = {}
    for mode, chunks, rounds in plan:
        for api in ("sync", "async"):
            key = f"{mode}/{api}"
            nv = len(fleet.variants)
            log(f"{fleet.sdk} overhead {key}: {rounds} rounds x {nv} variants, {chunks} chunks")
            fleet.each("stream", fleet.variants, mode=mode, api=api, chunks=min(chunks, 2000))  # warm-up
            wall: dict[str, list[float]] = {v: [] for v in fleet.variants}
            cpu: dict[str, list[float]] = {v: [] for v in fleet.variants}
            counts: dict[str, set[int]] = {v: set() for v in fleet.variants}
            for r in range(rounds):
                res = fleet.each("stream", rotate(fleet.variants, r), mode=mode, api=api, chunks=chunks)
                for v, doc in res.items():
                    st = doc["streams"][0]
                    wall[v].append(st["wall_ns"] / st["chunks"] / 1000)
                    cpu[v].append(st["cpu_ns"] / st["chunks"] / 1000)
                    counts[v].add(st["chunks"])
            alive = [v for v in wall if v in fleet.workers and len(wall[v]) == rounds]
            results[key] = {
                "content_chunks_requested": chunks,
                "rounds": rounds,
                "chunks_per_stream": {v: sorted(counts[v]) for v in alive},
                "us_per_chunk_wall": _paired({v: wall[v] for v in alive}),
                "us_per_chunk_cpu": _paired({v: cpu[v] for v in alive}),
            }
    return results


def headline(res: dict[str, Any]) -> dict[str, Any]:
    """Added µs/chunk measured exactly (preparsed) as a share of the real SDK's µs/chunk (in-process, CPU)."""
    out: dict[str, Any] = {}
    for api in ("sync", "async"):
        pre, inp = res.get(f"preparsed/{api}"), res.get(f"inproc/{api}")
        chaos = res.get(f"chaos/{api}")
        if not pre or not inp or "raw" not in inp["us_per_chunk_cpu"]:
            continue
        sdk_us = inp["us_per_chunk_cpu"]["raw"]["value"]["median"]
        rows: dict[str, Any] = {"sdk_us_per_chunk": sdk_us}
        for v, e in pre["us_per_chunk_cpu"].items():
            if v == "raw" or "added" not in e:
                continue
            added = e["added"]["median"]
            row = {
                "added_us_per_chunk": added,
                "added_pct_of_sdk": round(added / sdk_us * 100, 2) if sdk_us else None,
            }
            direct = inp["us_per_chunk_cpu"].get(v, {}).get("added")
            if direct:
                row["inproc_direct_added_us"] = direct
            if chaos and v in chaos["us_per_chunk_wall"] and "added" in chaos["us_per_chunk_wall"][v]:
                row["chaos_wall_added_us"] = chaos["us_per_chunk_wall"][v]["added"]
                row["chaos_wall_overhead_pct"] = chaos["us_per_chunk_wall"][v]["overhead_pct"]
            rows[v] = row
        out[api] = rows
    return out


def suite_ttft(fleet: Fleet, modes: list[str], rounds: int, batch: int) -> dict[str, Any]:
    """create() call to the first content chunk in the app's hands, many short streams.

    Small batches and many rounds: a burst of load from elsewhere lasts longer than one batch, so
    batches of all variants are interleaved finely.
    """
    results: dict[str, Any] = {}
    for mode in modes:
        for api in ("sync", "async"):
            key = f"{mode}/{api}"
            log(f"{fleet.sdk} ttft {key}: {rounds} rounds x {batch} streams")
            fleet.each("ttft", fleet.variants, mode=mode, api=api, count=10)  # warm-up
            all_: dict[str, list[float]] = {v: [] for v in fleet.variants}
            create: dict[str, list[float]] = {v: [] for v in fleet.variants}
            round_medians: dict[str, list[float]] = {v: [] for v in fleet.variants}
            for r in range(rounds):
                res = fleet.each("ttft", rotate(fleet.variants, r), mode=mode, api=api, count=batch)
                for v, doc in res.items():
                    us = [t / 1000 for t in doc["ttft_ns"]]
                    all_[v].extend(us)
                    create[v].extend(t / 1000 for t in doc["create_ns"])
                    round_medians[v].append(statistics.median(us))
            alive = [v for v in all_ if v in fleet.workers]
            med_raw = statistics.median(all_["raw"]) if all_.get("raw") else None
            entry: dict[str, Any] = {}
            paired = _paired({v: round_medians[v] for v in alive})
            for v in alive:
                e: dict[str, Any] = {
                    "ttft_us": summary(all_[v], 1),
                    "create_us": summary(create[v], 1),
                    "round_medians": paired[v],
                }
                if v != "raw" and med_raw is not None:
                    e["added_us_median"] = round(statistics.median(all_[v]) - med_raw, 1)
                entry[v] = e
            results[key] = entry
    return results


def suite_memory(
    fleet: Fleet, long_chunks: int, peer_cap: int, inproc_chunks: int, concurrent: int, traced_streams: int
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    long_: dict[str, Any] = {}
    for v in fleet.variants:
        n = (
            long_chunks
            if v in ("raw", "streamslo", "streamslo_base", "sdk_native")
            else min(long_chunks, peer_cap)
        )
        cps = sorted({c for c in (1_000, 10_000, 100_000, 1_000_000, n) if c <= n})
        log(f"{fleet.sdk}/{v} memory: preparsed stream of {n} chunks (tracemalloc), checkpoints {cps}")
        long_.update(fleet.each("mem_long", [v], mode="preparsed", chunks=n, checkpoints=cps, traced=True))
    results["long_stream_preparsed_traced"] = long_
    cps2 = sorted({c for c in (1_000, 10_000, 50_000, 100_000, inproc_chunks) if c <= inproc_chunks})
    log(f"{fleet.sdk} memory: real-SDK in-process stream of {inproc_chunks} chunks (RSS), checkpoints {cps2}")
    results["long_stream_inproc_rss"] = fleet.each(
        "mem_long", fleet.variants, mode="inproc", chunks=inproc_chunks, checkpoints=cps2, traced=False
    )
    log(f"{fleet.sdk} memory: {concurrent} concurrent async streams (RSS), {traced_streams} (tracemalloc)")
    rss = fleet.each("mem_concurrent", fleet.variants, streams=concurrent, traced=False)
    traced = fleet.each("mem_concurrent", fleet.variants, streams=traced_streams, traced=True)
    conc: dict[str, Any] = {}
    raw_t = traced.get("raw", {}).get("traced_per_stream")
    raw_r = rss.get("raw", {}).get("rss_per_stream")
    for v in fleet.variants:
        if v not in traced or v not in rss:
            continue
        e = {
            "traced_bytes_per_stream": round(traced[v]["traced_per_stream"]),
            "rss_bytes_per_stream": round(rss[v]["rss_per_stream"]),
            "traced_after_close_per_stream": round(traced[v]["traced_after_close"] / traced_streams),
            "open_s": rss[v]["open_s"],
        }
        if v != "raw" and raw_t is not None and raw_r is not None:
            e["added_traced_bytes_per_stream"] = round(traced[v]["traced_per_stream"] - raw_t)
            e["added_rss_bytes_per_stream"] = round(rss[v]["rss_per_stream"] - raw_r)
        conc[v] = e
    results["concurrent_async_streams"] = {
        "rss_streams": concurrent,
        "traced_streams": traced_streams,
        "variants": conc,
    }
    return results
