"""Reinforcement learning: ``learner=sac`` (Continual World's SAC) and ``learner=ppo``, for the flat policy
and in motion-primitive space (``policy=hierarchical``), collecting from ``gymnasium.vector`` envs.

:mod:`robot_cl.rl.sac` and the PPO objective in :mod:`robot_cl.rl.ppo` are the algorithm cores;
:mod:`robot_cl.rl.agent` and :mod:`robot_cl.rl.ppo` wrap them as robot_cl learners and policies;
:mod:`robot_cl.rl.vec` vectorises environments; :mod:`robot_cl.rl.primitive_env` is the primitive-space env.
"""
