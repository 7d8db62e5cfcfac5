"""The CLI tests' store on disk (`shop`), shared with tests/test_cli.py."""

from tests.test_cli import shop  # noqa: F401
