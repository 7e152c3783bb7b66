"""Test-side settings object imported by the official-style `lib/test/evaluation/local.py`.

Paths are resolved in `lib.utils.env`; this module only keeps the names that local.py files import.
"""
from lib.utils.env import env_settings

__all__ = ["EnvSettings", "env_settings"]


class EnvSettings:
    """Plain attribute bag filled in by `local_env_settings()` of a local.py file."""
