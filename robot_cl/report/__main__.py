"""``python -m robot_cl.report PATH...`` is ``robot-cl-report PATH...``."""

import sys

from robot_cl.report.command import main

sys.exit(main())
