from __future__ import annotations

from shopflow.core.errors import Conflict, NotFound


class WebhookNotFound(NotFound):
    code = "webhook_not_found"


class DeliveryNotFound(NotFound):
    code = "delivery_not_found"


class WebhookDeleted(Conflict):
    code = "webhook_deleted"
