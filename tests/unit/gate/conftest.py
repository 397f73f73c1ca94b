"""The gate's unit tests build their image reports with gate_reports.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
