"""Fixtures shared with the service suites: the bootstrap model and the proxy artifact."""

from tests.inference.conftest import tiny_proxy_dir
from tests.trainer.conftest import base_model

__all__ = ["base_model", "tiny_proxy_dir"]
