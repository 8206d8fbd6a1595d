"""Learners: how a policy is trained on one task (:class:`Learner`), behaviour cloning and the RL learners.

Importing this package registers every built-in learner (``bc``, ``sac``, ``ppo``) and the RL agents'
policies (``sac_flat``, ``ppo_hierarchical``, ...).
"""

from robot_cl.learners.base import LEARNERS, Learner, RLTask, make_learner, register_learner
from robot_cl.learners.bc import BCLearner
from robot_cl.learners.ppo import PPOLearner
from robot_cl.learners.sac import SACLearner

__all__ = ["LEARNERS", "BCLearner", "Learner", "PPOLearner", "RLTask", "SACLearner", "make_learner", "register_learner"]
