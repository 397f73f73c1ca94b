"""The admission unit tests import their AdmissionReview builders from reviews.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
