"""Does a predictor use its gripper input? Measured on held-out steps where the gripper changed.

CEM can only choose a gripper action if the predicted frame depends on it. For every transition of the
held-out trajectories (the last `--val-fraction` of the token cache, as in training) whose gripper
setpoint moved by more than 0.3, this predicts the next frame from the true frame and state with

- the recorded action,
- the same action with the gripper delta zeroed,
- the same action with the translation zeroed (for scale),

and reports the prediction errors, how far the gripper-zeroed prediction moves from the recorded one,
and the weight norms of the action and state embeddings per action dimension. A predictor that models
the gripper has a lower error with the recorded action than with the gripper zeroed.

    .venv/bin/python experiments/predictor_gripper_response.py --model vjepa_ac/assets/embedded_model \\
        --token-cache runs/v6/tokens.safetensors --json out/predictor_gripper_response.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

GRIPPER_CHANGE = 0.3


def _l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.float() - b.float()).abs().mean(dim=(1, 2))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="world-model directory or predictor checkpoint")
    p.add_argument("--token-cache", required=True, help="token cache built with the model's encoder")
    p.add_argument("--val-fraction", type=float, default=0.05, help="the held-out tail, as in training")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    with torch.no_grad():
        return _run(args)


def _run(args) -> int:

    from vjepa_ac.models import load_world_model
    from vjepa_ac.training.data.clip_dataset import clip_actions, split_indices
    from vjepa_ac.training.data.token_cache import TokenCache, encoder_fingerprint
    from vjepa_ac.training.losses import layer_norm_tokens

    model = load_world_model(args.model).eval()
    cache = TokenCache(args.token_cache, expected_fingerprint=encoder_fingerprint(model.encoder), in_memory=True)
    held_out = split_indices(len(cache), args.val_fraction)[1]
    first = held_out[0] if held_out else len(cache)
    reps, states, actions, targets = [], [], [], []
    for i in held_out:
        tokens = layer_norm_tokens(cache.tokens(i).float())
        trajectory_actions = clip_actions(cache.states[i])
        for t in torch.nonzero(trajectory_actions[:, 6].abs() > GRIPPER_CHANGE).flatten().tolist():
            reps.append(tokens[t])
            states.append(cache.states[i][t])
            actions.append(trajectory_actions[t])
            targets.append(tokens[t + 1])
    if not reps:
        print(f"no gripper changes in trajectories {first}..{len(cache) - 1}", file=sys.stderr)
        return 1
    reps_b, state_b = torch.stack(reps)[:, None], torch.stack(states)[:, None]
    action_b, target = torch.stack(actions)[:, None], torch.stack(targets)

    def predict(action: torch.Tensor) -> torch.Tensor:
        return model.step(reps_b, action, state_b)[0][:, 0]

    no_gripper, no_translation = action_b.clone(), action_b.clone()
    no_gripper[..., 6] = 0.0
    no_translation[..., :3] = 0.0
    recorded, gripper_zeroed, translation_zeroed = predict(action_b), predict(no_gripper), predict(no_translation)
    error, error_no_gripper = _l1(recorded, target), _l1(gripper_zeroed, target)
    result = {
        "model": args.model,
        "token_cache": args.token_cache,
        "held_out_trajectories": [first, len(cache) - 1],
        "gripper_change_steps": len(reps),
        "error_recorded_action": float(error.mean()),
        "error_gripper_zeroed": float(error_no_gripper.mean()),
        "error_translation_zeroed": float(_l1(translation_zeroed, target).mean()),
        "error_copy_current_frame": float(_l1(reps_b[:, 0], target).mean()),
        "recorded_better_share": float((error < error_no_gripper).float().mean()),
        "prediction_shift_gripper_zeroed": float(_l1(recorded, gripper_zeroed).mean()),
        "prediction_shift_translation_zeroed": float(_l1(recorded, translation_zeroed).mean()),
        "action_embedding_column_norms": model.predictor.action_encoder.weight.norm(dim=0).tolist(),
        "state_embedding_column_norms": model.predictor.state_encoder.weight.norm(dim=0).tolist(),
    }
    print(f"{args.model}: {len(reps)} held-out gripper changes; prediction error {result['error_recorded_action']:.4f} "
          f"with the recorded action, {result['error_gripper_zeroed']:.4f} with the gripper zeroed "
          f"(copy-the-frame baseline {result['error_copy_current_frame']:.4f}); zeroing the gripper moves the "
          f"prediction by {result['prediction_shift_gripper_zeroed']:.4f}, zeroing the translation by "
          f"{result['prediction_shift_translation_zeroed']:.4f}; gripper column of the action embedding "
          f"{result['action_embedding_column_norms'][6]:.3f} (x: {result['action_embedding_column_norms'][0]:.3f})")
    if args.json is not None:
        from vjepa_ac.evaluation.provenance import run_provenance

        result["provenance"] = run_provenance(args.model)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
