"""bench/plan_latency.py: runs end to end on a small preset and counts FLOPs consistently."""

import json

import pytest
from script_support import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("bench/plan_latency.py")


def test_bench_writes_json_with_timing_and_settings(bench, tmp_path):
    out = tmp_path / "bench.json"
    argv = ["--preset", "micro", "--device", "cpu", "--samples", "24", "--iters", "2", "--top-k", "4"]
    assert bench.main(argv + ["--horizon", "2", "--repeats", "2", "--warmup", "0", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["seconds_per_action"] > 0 and len(result["seconds_all"]) == 2
    assert result["tokens_per_second"] > 0 and result["tflops_per_second"] > 0
    settings = result["settings"]
    assert (settings["samples"], settings["iterations"], settings["horizon"]) == (24, 2, 2)
    assert settings["weights"] == "random-for-benchmark" and settings["dtype"] == "float32"


def test_flop_count_matches_parameters_and_attention(bench):
    model = bench.build_random_world_model("micro", "cpu", __import__("torch").float32)
    config = model.predictor.config
    one, two = bench.predictor_flops(config, 10, 1), bench.predictor_flops(config, 10, 2)
    t, d = config.tokens_per_step, config.embed_dim
    # A second cached step repeats the first one's work plus attention to one more step of keys.
    assert two - 2 * one == pytest.approx(10 * config.depth * 4 * t * t * d)
    # Linear work is ~2 * parameters * tokens (embeddings only touch some tokens, hence the slack).
    params = sum(p.numel() for p in model.predictor.parameters())
    attention = 10 * config.depth * 4 * t * t * d
    assert (one - attention) == pytest.approx(2 * params * t * 10, rel=0.15)


def test_unknown_preset_is_rejected(bench):
    with pytest.raises(SystemExit):
        bench.main(["--preset", "no-such-preset", "--device", "cpu"])
