"""Every table of Shopflow on one metadata (for Alembic and tests)."""

from shopflow.aftersales import models as aftersales_models
from shopflow.analytics import models as analytics_models
from shopflow.catalog import models as catalog_models
from shopflow.core import access, alerts, approvals, audit, auth, events, personal_data, sla
from shopflow.core.db import Base
from shopflow.crm import models as crm_models
from shopflow.crm.leads import models as lead_models
from shopflow.crm.quotes import models as quote_models
from shopflow.fulfillment.models import carriers as carrier_models
from shopflow.fulfillment.models import freight as freight_models
from shopflow.fulfillment.models import picking as picking_models
from shopflow.fulfillment.models import shipments as shipment_models
from shopflow.inventory import models as inventory_models
from shopflow.kb import models as kb_models
from shopflow.loyalty import campaign_models
from shopflow.loyalty import models as loyalty_models
from shopflow.notify import models as notify_models
from shopflow.orders import models as order_models
from shopflow.payments import models as payment_models
from shopflow.planning import models as planning_models
from shopflow.risk import models as risk_models
from shopflow.service import models as ticket_models
from shopflow.stockcontrol import models as stockcontrol_models

metadata = Base.metadata
MODULES = (
    access,
    alerts,
    audit,
    auth,
    events,
    personal_data,
    sla,
    catalog_models,
    inventory_models,
    loyalty_models,
    campaign_models,
    order_models,
    payment_models,
    notify_models,
    picking_models,
    carrier_models,
    shipment_models,
    freight_models,
    aftersales_models,
    lead_models,
    kb_models,
    crm_models,
    ticket_models,
    analytics_models,
    approvals,
    quote_models,
    risk_models,
    planning_models,
    stockcontrol_models,
)
