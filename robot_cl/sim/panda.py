"""The Franka Emika Panda as every backend builds it, engine-free: joint names, finger travel, the tool
centre point's offset, the link inertias identified by Gaz et al., "Dynamic Identification of the Franka
Emika Panda Robot With Retrieval of Feasible Parameters Using Penalty-Based Optimization", IEEE RA-L 2019
(the same table MuJoCo Menagerie uses; hand and finger masses are Franka's data-sheet values), and where
the URDF that ships with ``pybullet_data`` lies. The URDF's own inertias are placeholders (0.1 kg m^2 on
every link), which is why both builds replace them.
"""

from __future__ import annotations

from pathlib import Path

ARM_JOINTS = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGER_JOINTS = ("panda_finger_joint1", "panda_finger_joint2")
MAX_FINGER = 0.04  # metres of travel per finger (URDF limit)
TCP_OFFSET = 0.1034  # flange-to-fingertip-centre distance of the Franka Hand (data sheet)

# (mass, centre of mass, [ixx iyy izz ixy ixz iyz]) -- Gaz et al. 2019, Table of feasible parameters.
GAZ_INERTIA: dict[str, tuple[float, tuple[float, float, float], tuple[float, ...]]] = {
    "panda_link0": (0.629769, (-0.041018, -0.00014, 0.049974), (0.00315, 0.00388, 0.004285, 8.2904e-7, 0.00015, 8.2299e-6)),
    "panda_link1": (4.970684, (0.003875, 0.002081, -0.04762), (0.70337, 0.70661, 0.009117, -0.000139, 0.006772, 0.019169)),
    "panda_link2": (0.646926, (-0.003141, -0.02872, 0.003495), (0.007962, 0.02811, 0.025995, -0.003925, 0.010254, 0.000704)),
    "panda_link3": (3.228604, (0.027518, 0.039252, -0.066502), (0.037242, 0.036155, 0.01083, -0.004761, -0.011396, -0.012805)),
    "panda_link4": (3.587895, (-0.05317, 0.104419, 0.027454), (0.025853, 0.019552, 0.028323, 0.007796, -0.001332, 0.008641)),
    "panda_link5": (1.225946, (-0.011953, 0.041065, -0.038437), (0.035549, 0.029474, 0.008627, -0.002117, -0.004037, 0.000229)),
    "panda_link6": (1.666555, (0.060149, -0.014117, -0.010517), (0.001964, 0.004354, 0.005433, 0.000109, -0.001158, 0.000341)),
    "panda_link7": (0.735522, (0.010517, -0.004252, 0.061597), (0.012516, 0.010027, 0.004815, -0.000428, -0.001196, -0.000741)),
    "panda_hand": (0.73, (-0.01, 0.0, 0.03), (0.001, 0.0025, 0.0017, 0.0, 0.0, 0.0)),
    "panda_leftfinger": (0.015, (0.0, 0.0, 0.0), (2.375e-6, 2.375e-6, 7.5e-7, 0.0, 0.0, 0.0)),
    "panda_rightfinger": (0.015, (0.0, 0.0, 0.0), (2.375e-6, 2.375e-6, 7.5e-7, 0.0, 0.0, 0.0)),
}


def urdf_path() -> Path:
    """Location of the Panda URDF inside the installed ``pybullet_data`` package."""
    import pybullet_data

    path = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
    if not path.exists():
        raise FileNotFoundError(f"Panda URDF not found at {path}: reinstall pybullet (pip install pybullet)")
    return path
