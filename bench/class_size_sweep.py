"""Where the pipeline's CPU goes: per class or per chain. Runs `bench.pipeline` (closed mode) at several class
sizes, alternating, and fits each process's CPU per chain to `per_chain + per_class / class_size`.

    .venv/bin/python -m bench.class_size_sweep [--sizes 10,20,50] [--rounds 2] [--in-flight 320] [--chains 1920]

A class costs a fixed amount whatever its size — its REST requests (open, enrolment file, status polls,
check-ins, completions, outcome, evaluation, candidates, results, certificates), each with its own transaction,
idempotency record, relay round and the other services' consumer transactions — and each trainee costs the rest.
The split says which of the two a change must attack to reach a throughput at the headline class size:
`2 cores / target chains/s` is the CPU per chain the machine has at perfect utilisation.

Each run keeps about `--in-flight` chains in the platform (parallel classes = in-flight / size), on
`--chains` rounded up to whole classes. Sizes alternate within a round, so a drift in the machine's speed
(~30 % within an hour here) spreads over every size instead of favouring one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.pipeline import TARGET_CHAINS_PER_S, Config, run


@dataclass(frozen=True)
class Split:
    per_chain_ms: float
    per_class_ms: float

    def at(self, class_size: int) -> float:
        return self.per_chain_ms + self.per_class_ms / class_size


def fit(samples: list[tuple[int, float]]) -> Split:
    """Least squares of cpu = per_chain + per_class / size over (class size, CPU ms per chain) samples."""
    if len({size for size, _ in samples}) < 2:
        raise ValueError("the split needs runs at two class sizes at least")
    xs = [1 / size for size, _ in samples]
    ys = [cpu for _, cpu in samples]
    n = len(samples)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    return Split(per_chain_ms=mean_y - slope * mean_x, per_class_ms=slope)


def config_for(size: int, chains: int, in_flight: int) -> Config:
    parallel = max(1, in_flight // size)
    per_round = size * parallel
    return Config(chains=-(-chains // per_round) * per_round, class_size=size, parallel_classes=parallel)


def summarise(runs: list[dict[str, Any]], headline: int, cores: int) -> str:
    by_process: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for report in runs:
        size = report["config"]["class_size"]
        for process, cpu in report["cpu_ms_per_chain"].items():
            by_process[process].append((size, cpu))
        by_process["total"].append((size, sum(report["cpu_ms_per_chain"].values())))
    lines = [f"{'process':32} {'ms per chain':>12} {'ms per class':>12} {f'at {headline}/class':>14}"]
    for process, samples in by_process.items():
        split = fit(samples)
        lines.append(f"{process:32} {split.per_chain_ms:12.2f} {split.per_class_ms:12.1f} {split.at(headline):14.2f}")
    lines.append("")
    for report in runs:
        total = sum(report["cpu_ms_per_chain"].values())
        used = report["chains_per_s"] * total / 1000
        lines.append(f"class size {report['config']['class_size']:3}: {report['chains_per_s']:6.1f} chains/s, "
                     f"{total:5.1f} ms CPU per chain, {used:4.2f} of {cores} cores busy ({100 * used / cores:.0f} %)")
    budget = 1000 * cores / TARGET_CHAINS_PER_S
    lines.append(f"{TARGET_CHAINS_PER_S:.0f} chains/s on {cores} cores needs <= {budget:.1f} ms CPU per chain "
                 f"at perfect utilisation")
    return "\n".join(lines)


async def sweep(sizes: list[int], rounds: int, chains: int, in_flight: int) -> list[dict[str, Any]]:
    runs = []
    for round_no in range(rounds):
        for size in sizes:
            config = config_for(size, chains, in_flight)
            report = await run(config)
            print(f"round {round_no + 1}, class size {size}: {report['chains_per_s']:.1f} chains/s, "
                  f"CPU ms per chain {report['cpu_ms_per_chain']}", flush=True)
            runs.append(report)
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,20,50", help="class sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--chains", type=int, default=1920, help="chains per run, rounded up to whole rounds of classes")
    parser.add_argument("--in-flight", type=int, default=320, help="chains kept in the platform at once")
    parser.add_argument("--headline", type=int, default=20, help="the class size the table adds up for")
    parser.add_argument("--json", type=Path, help="write every run's report here")
    args = parser.parse_args(argv)
    runs = asyncio.run(sweep([int(s) for s in args.sizes.split(",")], args.rounds, args.chains, args.in_flight))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2, default=str))
    print(summarise(runs, args.headline, runs[0]["machine"]["cpus"]))


if __name__ == "__main__":
    main()
