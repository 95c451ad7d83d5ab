"""`vjepa-ac-parity`: every shared fixture passes; a perturbed one fails with a non-zero exit status."""

import shutil

import torch
from models_support import fixture_dir

from vjepa_ac.tools.parity import check_fixture, main


def test_all_shared_fixtures_pass(capsys):
    files = sorted(str(p) for p in fixture_dir().glob("*.pt"))
    assert len(files) >= 4
    assert main(files) == 0
    out = capsys.readouterr().out
    for output in ("tokens", "pred", "pred (kv-cached steps)", "compute_new_pose", "poses_to_diff",
                   "world_model_step next_rep", "world_model_step next_pose", "via loader"):
        assert output in out
    assert "FAIL" not in out
    errors = [r.max_abs_error for f in files for r in check_fixture(f)]
    assert all(e is not None and e <= 1e-5 for e in errors)


def test_directory_argument_and_environment_default(capsys, monkeypatch):
    assert main([str(fixture_dir())]) == 0
    monkeypatch.setenv("VJEPA_AC_FIXTURES", str(fixture_dir()))
    assert main([]) == 0
    assert main(["--json", str(fixture_dir() / "encoder_tiny_a.pt")]) == 0
    assert '"max_abs_error"' in capsys.readouterr().out


def test_a_wrong_reference_output_fails(tmp_path, capsys):
    fixture = torch.load(fixture_dir() / "ac_predictor_tiny_a.pt", weights_only=True)
    fixture["outputs"]["pred"][0, 0, 0] += 1e-3
    torch.save(fixture, tmp_path / "ac_predictor_tiny_a.pt")
    assert main([str(tmp_path / "ac_predictor_tiny_a.pt")]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(["--tolerance", "1e-2", str(tmp_path / "ac_predictor_tiny_a.pt")]) == 0


def test_unreadable_or_unknown_fixtures_fail(tmp_path, capsys):
    torch.save({"kind": "mystery"}, tmp_path / "mystery.pt")
    assert main([str(tmp_path / "mystery.pt")]) == 1
    assert "unknown fixture kind 'mystery'" in capsys.readouterr().out
    shutil.copy(fixture_dir() / "pose_vectors.pt", tmp_path / "pose_vectors.pt")  # its predictor file is missing
    assert main([str(tmp_path / "pose_vectors.pt")]) == 1
    assert main([str(tmp_path / "absent.pt")]) == 1
