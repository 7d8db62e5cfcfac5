from __future__ import annotations

from shopflow.core.errors import Conflict, NotFound


class ArticleNotFound(NotFound):
    code = "article_not_found"


class ArticleExists(Conflict):
    """Another article has the same kind, category, language and title."""

    code = "article_exists"
