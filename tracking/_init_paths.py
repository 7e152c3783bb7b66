"""Put the repository root on sys.path so entry scripts run as `python tracking/<script>.py` from anywhere.

This is the project's only sys.path edit; every entry script imports it first.
"""
import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
