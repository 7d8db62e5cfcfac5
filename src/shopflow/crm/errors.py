"""The customers' errors (CRM-1)."""

from __future__ import annotations

from shopflow.core.errors import Conflict, NotFound


class CustomerNotFound(NotFound):
    code = "customer_not_found"


class CustomerMerged(NotFound):
    """A profile merged into another: gone as such, its detail and `Location` naming the one kept."""

    code = "customer_merged"

    def __init__(self, customer_id: int, kept_id: int) -> None:
        super().__init__(f"customer {customer_id} was merged into customer {kept_id}")
        self.kept_id = kept_id
        self.headers = {"Location": f"/api/v1/customers/{kept_id}"}


class PhoneTaken(Conflict):
    """A phone names one customer (the blind index is unique)."""

    code = "phone_taken"
