"""Node enrollment: the one call a new node makes before it has a key in the registry."""

from __future__ import annotations

from litestar import post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from central.services.registry import RegistryService
from sync.enrollment import EnrollRequest, EnrollResponse


@post("/api/v1/enroll", summary="节点注册（一次性令牌 + 节点公钥）", status_code=200)
async def enroll(
    data: JSONBody[EnrollRequest], registry_service: NamedDependency[RegistryService]
) -> EnrollResponse:
    """Bind a new node's public key to its registry entry with a one-time token."""
    return await registry_service.enroll(data)
