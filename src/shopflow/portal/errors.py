from __future__ import annotations

from shopflow.core.errors import AppError, Forbidden, NotFound


class LinkRefused(NotFound):
    """A token this server did not sign (tampered, truncated, made up): answered as a page that
    does not exist, saying nothing of whether the order does."""

    code = "link_refused"


class LinkExpired(AppError):
    """The link's time is over (its expiry, or the order's after-sales window)."""

    status = 410
    code = "link_expired"
    title = "Gone"


class FormRefused(Forbidden):
    """A POST without the form key of its own link (another site's form, another order's page)."""

    code = "form_refused"
