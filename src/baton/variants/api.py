"""HTTP routes of the variants domain: a model's variants with their latest measurements (JSON)."""

from __future__ import annotations

from fastapi import APIRouter

from baton.accounts.http import OptionalUser
from baton.core.http import ExactRoute, RuntimeDep
from baton.hub import repos
from baton.variants import catalogue
from baton.variants.schemas import ModelVariants

router = APIRouter(route_class=ExactRoute)


@router.get("/api/variants/{namespace}/{name}", response_model=ModelVariants)
def get_variants(runtime: RuntimeDep, user: OptionalUser, namespace: str, name: str) -> ModelVariants:
    """The variants of a model the caller may read (a private model the caller cannot read: 404)."""
    with runtime.database.session() as session:
        repo = repos.get_repo(session, user, repos.parse_repo_id("model", f"{namespace}/{name}"))
        variants = catalogue.variants_of(session, user, repo)
        return ModelVariants.model_validate(
            {
                "model": repo.repo_id,
                "base": catalogue.base_summary(variants),
                "variants": variants,
                "limit": catalogue.MAX_VARIANTS,
            }
        )
