"""The staff roles (STF-1): a vocabulary the policy (alert owners) and the permission table share."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    SALES = "sales"
    CUSTOMER_SERVICE = "customer_service"
    CS_SUPERVISOR = "cs_supervisor"
    OPERATIONS = "operations"
    WAREHOUSE = "warehouse"
    PURCHASING = "purchasing"
    FINANCE = "finance"


# An owner (of an alert kind, `policy.alerts`) is a role, or one user: this prefix and a username.
USER_OWNER = "user:"
