"""create_app(): routers, shared state, the one error renderer."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from sqlalchemy import text

from shopflow import __version__, wiring
from shopflow.aftersales.api import router as aftersales_router
from shopflow.aftersales.console import PAGES as aftersales_pages
from shopflow.analytics.api import router as analytics_router
from shopflow.analytics.campaigns_api import router as campaigns_router
from shopflow.analytics.campaigns_console import PAGES as campaign_pages
from shopflow.analytics.console import PAGES as alert_pages
from shopflow.catalog.api import router as catalog_router
from shopflow.catalog.console import PAGES as catalog_pages
from shopflow.catalog.pricing_console import PAGES as price_rule_pages
from shopflow.core import access, crypto, policy
from shopflow.core.api import RequestGuard, Session, SlidingWindow, install_error_handlers, problems, require
from shopflow.core.audit import Actor
from shopflow.core.console.personal_data import PAGES as personal_data_pages
from shopflow.core.console.registry import CORE, Registry
from shopflow.core.console.session import install as install_console
from shopflow.core.console.staff import PAGES as staff_pages
from shopflow.core.db import Database
from shopflow.core.personal_data_api import router as personal_data_router
from shopflow.core.settings import Settings, get_settings
from shopflow.core.staff_api import router as staff_router
from shopflow.crm.api import router as customers_router
from shopflow.crm.console import PAGES as crm_pages
from shopflow.crm.leads.api import router as leads_router
from shopflow.crm.leads.console import PAGES as lead_pages
from shopflow.crm.members_api import router as members_router
from shopflow.crm.members_console import PAGES as member_pages
from shopflow.crm.quotes.api import router as quotes_router
from shopflow.crm.quotes.console import PAGES as quote_pages
from shopflow.fulfillment.api import router as fulfillment_router
from shopflow.fulfillment.console import PAGES as fulfillment_pages
from shopflow.inventory.api import router as inventory_router
from shopflow.inventory.console import PAGES as inventory_pages
from shopflow.kb.api import router as kb_router
from shopflow.kb.console import PAGES as kb_pages
from shopflow.loyalty.api import router as coupons_router
from shopflow.loyalty.console import PAGES as coupon_pages
from shopflow.notify.api import router as notify_router
from shopflow.notify.console import PAGES as notify_pages
from shopflow.orders.api import router as orders_router
from shopflow.orders.console import PAGES as order_pages
from shopflow.payments import gateway
from shopflow.payments import providers as payment_providers
from shopflow.payments.api import notifications_router as payment_notifications_router
from shopflow.payments.api import router as payments_router
from shopflow.payments.api import sandbox_router
from shopflow.payments.console import PAGES as payment_pages
from shopflow.planning.api import router as planning_router
from shopflow.planning.console import PAGES as planning_pages
from shopflow.portal.console import PAGES as customer_pages
from shopflow.privacy.api import router as privacy_router
from shopflow.privacy.console import PAGES as privacy_pages
from shopflow.risk.api import router as risk_router
from shopflow.risk.console import PAGES as risk_pages
from shopflow.service.api import router as tickets_router
from shopflow.service.care_api import router as care_router
from shopflow.service.console import PAGES as ticket_pages
from shopflow.service.survey_console import PAGES as survey_pages
from shopflow.stockcontrol.api import router as stockcontrol_router
from shopflow.stockcontrol.console import PAGES as stockcontrol_pages
from shopflow.web.console import PAGES as today_pages
from shopflow.worker import Worker

core_router = APIRouter(tags=["system"], responses=problems(401, 403))
# Swagger UI's own copy (npm swagger-ui-dist, see its README), so /docs loads offline.
SWAGGER_UI = "/static/vendor/swagger-ui"


@core_router.get("/policy")
async def effective_policy(_: Annotated[Actor, require("policy.read")]) -> dict[str, Any]:
    """The effective policy: built-in defaults with the store's overrides (POL-1)."""
    return policy.current().model_dump(mode="json")


def create_app(
    db: Database | None = None, settings: Settings | None = None, *, with_worker: bool = False
) -> FastAPI:
    """The app; `with_worker` also runs the worker in its event loop while it serves."""
    settings = settings or get_settings()
    crypto.install(settings.fernet_key())
    policy.install(policy.load(settings.policy_file))
    wiring.connect()  # the later domains told to the earlier ones
    owned = db is None
    database = db or Database.from_url(settings.database_url, settings.database_pool_size)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if owned:
            # A served process: what start-up made lives as long as the process. Out of the
            # collector's generations, it is not walked again by every full collection
            # (bench/order_intake.py: a few percent of the CPU of an order).
            gc.freeze()
        background = Worker(database, settings.worker_interval) if with_worker else None
        running = asyncio.create_task(background.run()) if background else None
        # Tokens are cached by a served process only while it hears revocations (PostgreSQL).
        hearing = owned and database.dialect == "postgresql"
        listener = asyncio.create_task(access.hear_revocations(settings.database_url)) if hearing else None
        yield
        if listener:
            listener.cancel()
            with suppress(asyncio.CancelledError):
                await listener
        if background and running:
            background.stop()  # the batch in progress commits first
            await running
        if owned:
            await database.dispose()

    app = FastAPI(
        title="Shopflow",
        version=__version__,
        description="The e-commerce department's standard operating procedure, executed by software.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.db = database
    app.state.list_requests = SlidingWindow()  # RSK-3: list requests per token, in this process
    app.state.customer_page_requests = SlidingWindow()  # the customer's page: per address
    app.state.lead_intakes = SlidingWindow()  # the storefront's lead form: per address (CRM-2)
    app.state.settings = settings
    # PAY-1: the providers this app starts payments with and hears from; the process's refunds go
    # through the same ones.
    app.state.providers = payment_providers.from_settings(settings)
    gateway.install(app.state.providers)
    if settings.sandbox:
        app.state.sandbox_key = settings.sandbox_key()
    install_error_handlers(app)
    # Requests are matched against the routes in this order, one by one (about 7 µs a route):
    # order intake, the hottest path, comes first.
    for router in (
        orders_router,
        core_router,
        catalog_router,
        coupons_router,
        campaigns_router,
        inventory_router,
        planning_router,
        payments_router,
        payment_notifications_router,
        notify_router,
        fulfillment_router,
        aftersales_router,
        risk_router,
        leads_router,
        quotes_router,
        customers_router,
        members_router,
        privacy_router,
        tickets_router,
        kb_router,
        care_router,
        analytics_router,
        personal_data_router,
        staff_router,
        stockcontrol_router,
    ):
        app.include_router(router, prefix="/api/v1")
    if settings.sandbox:  # PAY-1: a gateway that marks orders paid with no money moving
        app.include_router(sandbox_router, prefix="/api/v1")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "",
            title=f"{app.title} API",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
            # No badge fetched from the validator's site: it would send it the document's address.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/healthz", tags=["system"])
    async def healthz(session: Session) -> dict[str, str]:
        await session.execute(text("SELECT 1"))
        return {"status": "ok", "database": database.dialect, "version": __version__}

    # The console: each domain's pages, menu entries, labels and panels, registered here.
    pages = Registry.of(
        CORE,
        today_pages,
        order_pages,
        crm_pages,
        member_pages,
        privacy_pages,
        catalog_pages,
        price_rule_pages,
        coupon_pages,
        campaign_pages,
        inventory_pages,
        planning_pages,
        stockcontrol_pages,
        fulfillment_pages,
        payment_pages,
        aftersales_pages,
        risk_pages,
        lead_pages,
        ticket_pages,
        quote_pages,
        alert_pages,
        notify_pages,
        staff_pages,
        personal_data_pages,
        customer_pages,
        kb_pages,
        survey_pages,
    )
    install_console(app, settings, pages)
    # Outermost: a request is checked before anything reads its body.
    app.add_middleware(RequestGuard, max_body=settings.max_body_bytes)

    return app


def create_app_with_worker() -> FastAPI:
    """`shopflow serve --with-worker`: the server and, in each of its processes, a worker."""
    return create_app(with_worker=True)
