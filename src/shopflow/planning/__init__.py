"""Inventory planning (issue 18): safety stock watched per SKU and warehouse (INV-4), demand
forecasts (ANA-5), suppliers, purchase orders and replenishment (INV-5, ORD-4)."""
