"""dbadvisor: find out why a database is slow or bloated, prove it, and write the fix."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dbadvisor")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
