from scale_or_reason.core import machine


def test_the_peak_is_measured_once_and_cached(monkeypatch):
    calls = []

    def fake_benchmark(device, dtype):
        calls.append(device)
        return 1.5e10

    monkeypatch.setattr(machine, "benchmark_matmul", fake_benchmark)
    assert machine.peak_flops("cpu", threads=1) == 1.5e10
    assert machine.peak_flops("cpu", threads=1) == 1.5e10
    assert calls == ["cpu"]
    machine.peak_flops("cpu", threads=2)
    assert len(calls) == 2, "another thread count is another machine"


def test_a_real_benchmark_gives_a_plausible_rate():
    rate = machine.benchmark_matmul(size=128)
    assert 1e7 < rate < 1e14


def test_mfu():
    assert machine.model_flops_utilisation(5e11, 10.0, 1e11) == 0.5
