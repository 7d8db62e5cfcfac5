"""Shopflow: the e-commerce department's standard operating procedure, executed by software."""

__version__ = "0.1.0"
