"""CEM planner on a world model with a known optimum (tokens = smooth function of the pose)."""

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vjepa_ac.planning import CEMConfig, CEMPlanner, PlanResult, l1_energy
from vjepa_ac.planning.pose_world_model import PoseFeatureWorldModel
from vjepa_ac.poses import integrate_actions


def unanchored(**settings) -> CEMConfig:
    """The paper's energy: these tests check CEM itself against a perfect predictor, one rollout per sample."""
    return CEMConfig(**{"anchor_to_observation": False, **settings})


START = torch.tensor([0.45, 0.05, 0.30, 0.10, -0.20, 0.30, 0.20], dtype=torch.float64)


@pytest.fixture(scope="module")
def model():
    return PoseFeatureWorldModel(tokens_per_frame=16, embed_dim=32, seed=3)


def frame(model, state):
    return model.tokens_for_state(torch.as_tensor(state, dtype=torch.float32)[None])[0]


def plan_toward(model, action, config, start=START):
    goal_state = integrate_actions(start, torch.as_tensor(action, dtype=torch.float64))
    planner = CEMPlanner(model, config)
    return planner.plan(frame(model, start), start, frame(model, goal_state)), goal_state, planner


def assert_feasible(actions, config):
    actions = np.atleast_2d(actions)
    assert (np.abs(actions[:, :3]).sum(-1) <= config.l1_radius).all()
    assert (np.abs(actions[:, 6]) <= config.gripper_max).all()


def test_h1_converges_to_the_known_optimum(model):
    target = [0.03, -0.025, 0.015, 0.0, 0.0, 0.0, 0.5]
    config = unanchored(samples=400, iterations=10, horizon=1)
    result, _, _ = plan_toward(model, target, config)
    assert isinstance(result, PlanResult)
    assert result.action.dtype == np.float64 and result.action.shape == (7,)
    assert result.actions.shape == (1, 7) and result.predicted_states.shape == (1, 7)
    np.testing.assert_allclose(result.action[:3], target[:3], atol=3e-3)
    assert abs(result.action[6] - 0.5) < 0.05
    assert result.energy < 0.1 * result.iteration_energies[0]
    assert_feasible(result.actions, config)
    np.testing.assert_allclose(result.predicted_states[0], integrate_actions(START, torch.tensor(result.action)).numpy())


def test_h2_reaches_a_goal_two_balls_away(model):
    # |Δ|_1 = 0.14 > 0.075: only a two-step plan can reach it.
    target = [0.10, 0.04, 0.0, 0.0, 0.0, 0.0, 0.0]
    config = unanchored(samples=400, iterations=10, horizon=2)
    result, goal_state, _ = plan_toward(model, target, config)
    assert result.actions.shape == (2, 7)
    assert_feasible(result.actions, config)
    np.testing.assert_allclose(result.predicted_states[-1][:3], goal_state[:3].numpy(), atol=8e-3)
    np.testing.assert_allclose(result.action, result.actions[0])


def test_h1_unreachable_goal_pushes_to_the_ball_surface(model):
    config = unanchored(samples=400, iterations=10, horizon=1, gripper_enabled=False)
    result, goal_state, _ = plan_toward(model, [0.2, 0.0, 0.0, 0, 0, 0, 0], config)
    assert np.abs(result.action[:3]).sum() > 0.074
    assert result.action[0] > 0.04
    assert_feasible(result.action, config)
    # At least as good as the obvious feasible move straight toward the goal.
    straight = torch.tensor([[[0.075, 0, 0, 0, 0, 0, 0]]])
    start = torch.as_tensor(START, dtype=torch.float32)[None]
    straight_energy = l1_energy(model.rollout(frame(model, START)[None], start, straight), frame(model, goal_state))
    assert result.energy <= float(straight_energy[0]) + 1e-6


def test_rotation_dims_are_searched_only_when_enabled(model):
    target = [0.0, 0.0, 0.0, 0.06, -0.04, 0.05, 0.0]
    frozen, _, _ = plan_toward(model, target, unanchored(samples=300, iterations=8))
    assert np.all(frozen.actions[:, 3:6] == 0.0)
    free, _, _ = plan_toward(model, target, unanchored(samples=300, iterations=10, rotation_enabled=True))
    np.testing.assert_allclose(free.action[3:6], target[3:6], atol=0.02)
    assert np.abs(free.actions[:, 3:6]).sum(-1).max() <= 0.2


def test_frozen_dims_stay_exactly_zero_in_every_sample(model):
    seen = []

    class Recording:
        tokens_per_frame, embed_dim = model.tokens_per_frame, model.embed_dim

        def rollout(self, tokens, state, actions):
            seen.append(actions.clone())
            return model.rollout(tokens, state, actions)

    config = unanchored(samples=64, iterations=3, top_k=5, horizon=2, frozen_dimensions=("dz",), gripper_enabled=False)
    planner = CEMPlanner(Recording(), config)
    result = planner.plan(frame(model, START), START, frame(model, START + 0.05))
    sampled = torch.cat([a.reshape(-1, 7) for a in seen])
    assert sampled.shape[0] == 3 * 64 * 2 + 2
    assert bool((sampled[:, [2, 3, 4, 5, 6]] == 0).all())
    assert (sampled[:, :3].abs().sum(-1) <= 0.075).all()
    assert np.all(result.actions[:, [2, 3, 4, 5, 6]] == 0.0)


def test_same_seed_same_plan_different_seed_different_samples(model):
    goal = frame(model, integrate_actions(START, torch.tensor([0.02, 0.01, 0, 0, 0, 0, 0.3], dtype=torch.float64)))
    config = unanchored(samples=50, iterations=3, top_k=5, horizon=2)
    record = {}

    def run(seed):
        calls = []

        class Recording:
            def rollout(self, tokens, state, actions):
                calls.append(actions.clone())
                return model.rollout(tokens, state, actions)

        result = CEMPlanner(Recording(), unanchored(**{**config.__dict__, "seed": seed})).plan(
            frame(model, START), START, goal
        )
        record[seed] = calls
        return result

    a, b, c = run(7), run(7), run(8)
    np.testing.assert_array_equal(a.actions, b.actions)
    assert all(torch.equal(x, y) for x, y in zip(record[7], record[7]))
    assert not torch.equal(record[7][0][1:], record[8][0][1:])  # sample 0 is the (shared) initial mean
    assert not np.array_equal(a.actions, c.actions)


def test_reset_restarts_the_random_stream_and_drops_the_warm_start(model):
    goal = frame(model, integrate_actions(START, torch.tensor([0.1, 0.0, 0, 0, 0, 0, 0], dtype=torch.float64)))
    planner = CEMPlanner(model, unanchored(samples=100, iterations=4, top_k=5, horizon=2))
    first = planner.plan(frame(model, START), START, goal)
    second = planner.plan(frame(model, START), START, goal)  # warm-started: differs
    assert not np.array_equal(first.actions, second.actions)
    planner.reset()
    again = planner.plan(frame(model, START), START, goal)
    np.testing.assert_array_equal(first.actions, again.actions)


def test_warm_start_is_the_previous_plan_shifted_by_one_step(model):
    goal = frame(model, integrate_actions(START, torch.tensor([0.1, 0.04, 0, 0, 0, 0, 0], dtype=torch.float64)))
    first_means = []

    class Recording:
        def rollout(self, tokens, state, actions):
            first_means.append(actions[0].clone())
            return model.rollout(tokens, state, actions)

    planner = CEMPlanner(Recording(), unanchored(samples=60, iterations=2, top_k=5, horizon=3))
    result = planner.plan(frame(model, START), START, goal)
    first_means.clear()
    planner.plan(frame(model, START), START, goal)
    initial = first_means[0].numpy()  # sample 0 of iteration 0 is the warm-start mean
    np.testing.assert_allclose(initial[:2], result.actions[1:].astype(np.float32), atol=1e-7)
    assert np.all(initial[2] == 0.0)


def test_receding_horizon_loop_reaches_the_goal(model):
    goal_state = integrate_actions(START, torch.tensor([0.12, -0.06, 0.03, 0, 0, 0, 0.6], dtype=torch.float64))
    goal = frame(model, goal_state)
    planner = CEMPlanner(model, unanchored(samples=200, iterations=6, horizon=2))
    state = START.clone()
    for _ in range(5):
        result = planner.plan(frame(model, state), state, goal)
        state = integrate_actions(state, torch.tensor(result.action))
    assert float((state[:3] - goal_state[:3]).norm()) < 5e-3
    assert abs(float(state[6] - goal_state[6])) < 0.05


def test_chunked_rollouts_give_the_same_plan(model):
    goal = frame(model, integrate_actions(START, torch.tensor([0.03, 0.01, 0, 0, 0, 0, 0], dtype=torch.float64)))
    whole = CEMPlanner(model, unanchored(samples=90, iterations=3, top_k=5)).plan(frame(model, START), START, goal)
    calls_before = model.rollout_calls
    chunked = CEMPlanner(model, unanchored(samples=90, iterations=3, top_k=5, chunk_size=32))
    result = chunked.plan(frame(model, START), START, goal)
    assert model.rollout_calls - calls_before == 3 * 3 + 1  # ceil(90/32) per iteration + final mean
    np.testing.assert_allclose(result.actions, whole.actions, atol=1e-6)
    calls_before = model.rollout_calls
    chunked.plan(frame(model, START), START, goal)  # the batch-1 final evaluation must not shrink chunks
    assert model.rollout_calls - calls_before == 3 * 3 + 1


def test_repeated_plans_keep_one_rollout_per_iteration(model):
    goal = frame(model, START)
    planner = CEMPlanner(model, unanchored(samples=50, iterations=4, top_k=5))
    for _ in range(3):
        calls_before = model.rollout_calls
        planner.plan(frame(model, START), START, goal)
        assert model.rollout_calls - calls_before == 4 + 1


def test_shipped_and_paper_settings_and_from_mapping():
    shipped, paper = CEMConfig(), CEMConfig.paper()
    assert (shipped.samples, shipped.iterations, shipped.top_k, shipped.horizon, shipped.l1_radius) == \
        (paper.samples, paper.iterations, paper.top_k, paper.horizon, paper.l1_radius) == (800, 10, 10, 1, 0.075)
    assert shipped.anchor_to_observation and shipped.gripper_goal_weight > 0
    assert not paper.anchor_to_observation and paper.gripper_goal_weight == 0 and not paper.warm_start
    # YAML/ROS values replace only the fields they name; other keys (node parameters) are left alone.
    config = CEMConfig.from_mapping({"samples": 64, "top_k": 4, "rate_hz": 2.0, "horizon": None})
    assert (config.samples, config.top_k, config.horizon, config.iterations) == (64, 4, 1, 10)
    assert CEMConfig.from_mapping({"seed": 3}, paper) == dataclasses.replace(paper, seed=3)
    assert CEMConfig.defaults() == dataclasses.asdict(shipped)


def test_gripper_goal_decides_the_gripper_of_a_model_that_does_not_see_it(model):
    blind = PoseFeatureWorldModel(tokens_per_frame=16, embed_dim=32, seed=3)
    blind.weight[9] *= 1e-4
    target = [0.02, -0.01, 0.0, 0, 0, 0, 0.0]  # the goal image: moved, gripper as it is (open)
    config = unanchored(samples=300, iterations=8, gripper_goal_weight=0.05)
    goal_state = integrate_actions(START, torch.tensor(target, dtype=torch.float64))
    closed_start = START.clone()
    closed_start[6] = 1.0
    for start, goal_gripper, expected in ((START, 1.0, "close"), (closed_start, 0.0, "open")):
        planner = CEMPlanner(blind, config)
        result = planner.plan(frame(blind, start), start, frame(blind, goal_state), goal_gripper=goal_gripper)
        gripper_after = min(max(float(start[6]) + result.action[6], 0.0), 1.0)
        # gripper_max 0.75 per action: as far toward the goal's gripper as one action goes
        assert abs(gripper_after - goal_gripper) <= 0.25 + 1e-3, (expected, result.action)
        np.testing.assert_allclose(result.action[:3], target[:3], atol=5e-3)  # translation still from the image
    # Without a goal gripper (or with weight 0) the term is absent: identical plans.
    plain = CEMPlanner(blind, unanchored(samples=300, iterations=8)).plan(
        frame(blind, START), START, frame(blind, goal_state))
    unused = CEMPlanner(blind, config).plan(frame(blind, START), START, frame(blind, goal_state))
    ignored = CEMPlanner(blind, unanchored(samples=300, iterations=8, gripper_goal_weight=0.0)).plan(
        frame(blind, START), START, frame(blind, goal_state), goal_gripper=1.0)
    np.testing.assert_array_equal(plain.actions, unused.actions)
    np.testing.assert_array_equal(plain.actions, ignored.actions)


def test_final_gripper_clips_each_step_like_the_robot():
    from vjepa_ac.planning.cem import final_gripper

    actions = torch.zeros(3, 2, 7)
    actions[0, :, 6] = torch.tensor([0.75, 0.75])  # saturates at 1
    actions[1, :, 6] = torch.tensor([-0.75, 0.5])  # clipped at 0 first, then 0.5
    actions[2, :, 6] = torch.tensor([0.3, -0.1])
    np.testing.assert_allclose(final_gripper(torch.tensor(0.2), actions).numpy(), [1.0, 0.5, 0.4], atol=1e-6)


@pytest.mark.parametrize("goal_gripper", [-0.1, 1.5, float("nan")])
def test_goal_gripper_outside_0_1_raises(model, goal_gripper):
    planner = CEMPlanner(model, unanchored(samples=20, iterations=1, gripper_goal_weight=0.05))
    with pytest.raises(ValueError, match="goal_gripper"):
        planner.plan(frame(model, START), START, frame(model, START), goal_gripper=goal_gripper)


class BiasedPredictions(PoseFeatureWorldModel):
    """Predicts every frame with the same error, as a blurry predictor does near the goal."""

    def __init__(self, bias_seed: int = 11, **kwargs):
        super().__init__(**kwargs)
        generator = torch.Generator().manual_seed(bias_seed)
        self.prediction_error = 0.6 * torch.randn(self.tokens_per_frame, self.embed_dim, generator=generator)

    def rollout(self, tokens, state, actions):
        return super().rollout(tokens, state, actions) + self.prediction_error


def test_anchor_to_observation_equals_the_paper_energy_for_an_exact_model(model):
    target = [0.03, -0.02, 0.01, 0.0, 0.0, 0.0, 0.0]
    plain, _, _ = plan_toward(model, target, unanchored(samples=300, iterations=6, gripper_enabled=False))
    anchored, _, _ = plan_toward(model, target, unanchored(samples=300, iterations=6, gripper_enabled=False,
                                                          anchor_to_observation=True))
    np.testing.assert_allclose(anchored.action, plain.action, atol=1e-5)
    assert anchored.energy == pytest.approx(plain.energy, rel=1e-4, abs=1e-6)


def test_anchor_to_observation_cancels_an_error_common_to_all_predictions():
    biased = BiasedPredictions(tokens_per_frame=16, embed_dim=32, seed=3)
    config = unanchored(samples=400, iterations=8, gripper_enabled=False)
    goal_offset = [0.01, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]  # 1 cm from the goal
    plain, goal_state, _ = plan_toward(biased, goal_offset, config)
    anchored, _, _ = plan_toward(biased, goal_offset, dataclasses.replace(config, anchor_to_observation=True))

    def miss(result):
        reached = integrate_actions(START, torch.as_tensor(result.action))
        return float(torch.linalg.norm(reached[:3] - goal_state[:3]))

    # The bias moves the plain energy's minimum away from the goal; the anchored one is unbiased.
    assert miss(anchored) < 3e-3
    assert miss(plain) > 3 * miss(anchored), (miss(plain), miss(anchored))


@pytest.mark.parametrize(
    "state",
    [
        [float("nan"), 0, 0, 0, 0, 0, 0],
        [0, 0, 0, float("inf"), 0, 0, 0],
        [0.1] * 6,
    ],
)
def test_bad_state_raises(model, state):
    planner = CEMPlanner(model, unanchored(samples=10, iterations=1, top_k=2))
    with pytest.raises(ValueError, match="state"):
        planner.plan(frame(model, START), state, frame(model, START))


def test_bad_tokens_raise(model):
    planner = CEMPlanner(model, unanchored(samples=10, iterations=1, top_k=2))
    good = frame(model, START)
    with pytest.raises(ValueError, match="current_tokens"):
        planner.plan(good[:, :-1], START, good)
    with pytest.raises(ValueError, match="goal_tokens"):
        planner.plan(good, START, good[:-1])
    nan_goal = good.clone()
    nan_goal[0, 0] = float("nan")
    with pytest.raises(ValueError, match="goal_tokens"):
        planner.plan(good, START, nan_goal)


def test_rollout_with_wrong_output_shape_is_reported():
    class Broken:
        def rollout(self, tokens, state, actions):
            return tokens[:, :-1]

    for anchor in (False, True):  # the hold-still rollout of the anchored energy is checked too
        planner = CEMPlanner(Broken(), CEMConfig(samples=8, iterations=1, top_k=2, anchor_to_observation=anchor))
        with pytest.raises(RuntimeError, match="rollout returned"):
            planner.plan(torch.zeros(4, 8), START, torch.zeros(4, 8))


@pytest.mark.parametrize(
    "kwargs",
    [{"samples": 0}, {"top_k": 900}, {"horizon": 0}, {"momentum_mean": 1.0}, {"l1_radius": -0.1}, {"frozen_dimensions": (9,)},
     {"gripper_goal_weight": -0.1}],
)
def test_invalid_config_raises(kwargs):
    with pytest.raises(ValueError):
        CEMConfig(**kwargs)


def test_l1_energy_matches_definition_and_checks_shapes():
    gen = torch.Generator().manual_seed(0)
    pred, goal = torch.randn(5, 6, 4, generator=gen), torch.randn(6, 4, generator=gen)
    expected = torch.stack([(p - goal).abs().mean() for p in pred])
    torch.testing.assert_close(l1_energy(pred, goal), expected)
    torch.testing.assert_close(l1_energy(pred[2], goal), expected[2])
    per_sample_goals = torch.randn(5, 6, 4, generator=gen)
    torch.testing.assert_close(l1_energy(pred, per_sample_goals), (pred - per_sample_goals).abs().mean(dim=(1, 2)))
    torch.testing.assert_close(l1_energy(pred.bfloat16(), goal), (pred.bfloat16().float() - goal).abs().mean(dim=(1, 2)))
    with pytest.raises(ValueError):
        l1_energy(pred, goal[:, :3])
    with pytest.raises(ValueError):
        l1_energy(pred[None], goal)


def test_out_of_memory_halves_the_chunk_and_keeps_the_plan(model):
    batches = []

    class SmallMemory:
        tokens_per_frame, embed_dim = model.tokens_per_frame, model.embed_dim

        def rollout(self, tokens, state, actions):
            batches.append(actions.shape[0])
            if actions.shape[0] > 20:
                raise torch.OutOfMemoryError("simulated: batch too large")
            return model.rollout(tokens, state, actions)

    goal = frame(model, integrate_actions(START, torch.tensor([0.03, 0.01, 0, 0, 0, 0, 0], dtype=torch.float64)))
    config = unanchored(samples=80, iterations=3, top_k=5)
    limited = CEMPlanner(SmallMemory(), config).plan(frame(model, START), START, goal)
    reference = CEMPlanner(model, config).plan(frame(model, START), START, goal)
    assert batches[:3] == [80, 40, 20]  # halved until it fits, then kept
    assert max(batches[3:]) <= 20 and batches.count(20) == 3 * 4
    np.testing.assert_allclose(limited.actions, reference.actions, atol=1e-6)


def test_compiled_rollout_gives_the_same_plan(model):
    goal = frame(model, integrate_actions(START, torch.tensor([0.02, 0.01, 0, 0, 0, 0, 0], dtype=torch.float64)))
    config = unanchored(samples=40, iterations=2, top_k=4)
    eager = CEMPlanner(model, config).plan(frame(model, START), START, goal)
    compiled = CEMPlanner(model, unanchored(**{**config.__dict__, "compile": "eager"}))
    assert compiled._rollout is not model.rollout
    np.testing.assert_allclose(compiled.plan(frame(model, START), START, goal).actions, eager.actions, atol=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.floats(min_value=-0.5, max_value=0.5), min_size=7, max_size=7),
    st.integers(min_value=1, max_value=3),
    st.booleans(),
    st.floats(min_value=0.01, max_value=0.2),
)
def test_returned_plans_are_always_feasible(model, displacement, horizon, rotation_enabled, radius):
    config = unanchored(
        samples=30, iterations=2, top_k=3, horizon=horizon, l1_radius=radius, rotation_enabled=rotation_enabled
    )
    result, _, _ = plan_toward(model, displacement, config)
    space = config.action_space()
    assert bool(space.contains(torch.from_numpy(result.actions)).all())
    assert bool(space.contains(torch.from_numpy(result.action)))
    assert (np.abs(result.actions[:, :3]).sum(-1) <= radius).all()
