"""The pipeline benchmark's class-size sweep arithmetic (`python -m bench.pipeline --sweep`): the per-class /
per-chain split and the runs it plans. The pipeline runs themselves are covered by test_pipeline_smoke.py."""

from __future__ import annotations

import pytest

from bench.pipeline import Config, Split, fit, render_sweep, sweep_config


def test_two_sizes_split_exactly() -> None:
    # 8.8 ms per chain + 144 ms per class: 23.2 ms at 10 per class, 11.68 ms at 50
    split = fit([(10, 23.2), (50, 11.68)])
    assert split.per_chain_ms == pytest.approx(8.8)
    assert split.per_class_ms == pytest.approx(144.0)
    assert split.at(20) == pytest.approx(16.0)


def test_more_samples_are_fitted_by_least_squares() -> None:
    # two rounds that drift by +-0.5 ms around 2 + 40 / size: the drift cancels
    samples = [(10, 6.5), (20, 4.5), (50, 3.3), (10, 5.5), (20, 3.5), (50, 2.3)]
    split = fit(samples)
    assert split.per_chain_ms == pytest.approx(2.0)
    assert split.per_class_ms == pytest.approx(40.0)


def test_one_size_cannot_be_split() -> None:
    with pytest.raises(ValueError, match="two class sizes"):
        fit([(20, 16.0), (20, 15.0)])


def test_runs_keep_the_chains_in_flight_and_whole_classes() -> None:
    def planned(size: int, chains: int) -> tuple[int, int, int]:
        config = sweep_config(Config(chains=chains, rate=50.0, days=3), size, 320)
        assert (config.rate, config.days) == (None, 3)  # closed runs; the other settings as given
        return config.class_size, config.parallel_classes, config.chains

    assert planned(10, 1920) == (10, 32, 1920)
    assert planned(20, 1920) == (20, 16, 1920)
    # 50 x 6 = 300 per round: 1920 rounds up to 7 rounds
    assert planned(50, 1920) == (50, 6, 2100)
    assert planned(500, 100) == (500, 1, 500)


def test_summary_adds_up_the_processes_and_the_budget() -> None:
    def report(size: int, per_s: float, cpu: dict[str, float]) -> dict:
        return {"config": {"class_size": size}, "chains_per_s": per_s, "cpu_ms_per_chain": cpu}

    text = render_sweep([report(10, 80.0, {"a": 13.0, "b": 10.0}), report(50, 140.0, {"a": 5.0, "b": 7.0})],
                     headline=20, cores=2)
    lines = text.splitlines()
    assert lines[1].split() == ["a", "3.00", "100.0", "8.00"]
    assert lines[2].split() == ["b", "6.25", "37.5", "8.12"]
    assert lines[3].split() == ["total", "9.25", "137.5", "16.12"]
    assert "class size  10:   80.0 chains/s,  23.0 ms CPU per chain, 1.84 of 2 cores busy (92 %)" in text
    assert text.endswith("150 chains/s on 2 cores needs <= 13.3 ms CPU per chain at perfect utilisation")
    assert Split(1.0, 20.0).at(20) == 2.0
