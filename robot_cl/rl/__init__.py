"""Reinforcement learning (issue 6, in progress): SAC with Continual World's architecture; PPO's objective.

Not wired into ``robot-cl`` yet: :mod:`robot_cl.rl.sac` and :mod:`robot_cl.rl.ppo` are the
algorithm cores, tested on their own (``tests/test_rl.py``).
"""
