from __future__ import annotations

from shopflow.core.errors import Conflict, NotFound, Unauthorized


class WaveNotFound(NotFound):
    code = "wave_not_found"


class TaskNotFound(NotFound):
    code = "pick_task_not_found"


class ShipmentNotFound(NotFound):
    code = "shipment_not_found"


class CarrierNotFound(NotFound):
    code = "carrier_not_found"


class RuleNotFound(NotFound):
    code = "carrier_rule_not_found"


class CaseNotFound(NotFound):
    code = "exception_case_not_found"


class DuplicateCarrier(Conflict):
    code = "carrier_exists"


class TooManyCarriers(Conflict):
    code = "too_many_carriers"


class NoCarrier(Conflict):
    code = "no_carrier_rule"


class TrackingNumberTaken(Conflict):
    code = "tracking_number_taken"


class DuplicateBill(Conflict):
    code = "freight_bill_exists"


class NothingToShip(Conflict):
    code = "nothing_to_ship"


class BadSignature(Unauthorized):
    code = "bad_signature"
