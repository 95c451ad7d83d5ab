"""MuJoCo-specific checks: our numpy kinematics equals the compiled MJCF; goal rendering touches no MjData."""

import mujoco
import numpy as np
import pytest

from vjepa_ac.simulation import make_sim
from vjepa_ac.simulation.panda_kinematics import PandaKinematics


@pytest.fixture(scope="module")
def sim():
    s = make_sim("mujoco", image_size=32)
    yield s
    s.close()


def test_kinematics_matches_mujoco(sim):
    kin = PandaKinematics.from_pybullet_data()
    rng = np.random.default_rng(0)
    scratch = mujoco.MjData(sim.model)
    site = sim.model.site("tcp").id
    for _ in range(5):
        q = rng.uniform(kin.lower, kin.upper)
        scratch.qpos[:7] = q
        mujoco.mj_kinematics(sim.model, scratch)
        T = kin.tcp_transform(q)
        np.testing.assert_allclose(T[:3, 3], scratch.site_xpos[site], atol=1e-9)
        np.testing.assert_allclose(T[:3, :3], scratch.site_xmat[site].reshape(3, 3), atol=1e-5)


def test_render_goal_does_not_write_the_episode_data(sim):
    sim.reset(5)
    sim.step(np.array([0.02, 0.03, -0.04, 0, 0, 0, 1.0]))
    d = sim.data
    snapshot = {k: getattr(d, k).copy() for k in ("qpos", "qvel", "act", "ctrl", "qacc_warmstart", "xpos")}
    t = d.time
    sim.render_goal(ee_pose=np.array([0.6, 0.1, 0.2, np.pi, 0, 0.3, 0.0]),
                    object_poses={"cup": np.array([0.5, 0.0, 0.0, 1, 0, 0, 0])})
    for key, value in snapshot.items():
        np.testing.assert_array_equal(getattr(d, key), value, err_msg=key)
    assert d.time == t


def test_low_poly_and_full_meshes_render_the_same_scene():
    """The fast low-poly visuals must not move or hide anything: same silhouette up to mesh detail."""
    images = []
    for low_poly in (True, False):
        s = make_sim("mujoco", image_size=96, low_poly=low_poly, shadows=False)
        images.append(s.reset(0).image.astype(int))
        s.close()
    assert np.abs(images[0] - images[1]).mean() < 6.0
