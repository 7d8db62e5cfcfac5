"""Cycle counts (`counts`, INV-6) and transfers between warehouses (`transfers`, INV-7)."""
