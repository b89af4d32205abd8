"""The domain tools a turn may use, built once and passed in (no module-level singletons)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tools.catalog import Catalog

if TYPE_CHECKING:
    from nlu.pipeline import Extractor
    from tools.financing import FinancingConfig
    from tools.knowledge import KnowledgeBase
    from tools.llm import LLMClient


@dataclass
class Services:
    catalog: Catalog
    extractor: Extractor
    knowledge: KnowledgeBase
    financing: FinancingConfig
    llm: LLMClient | None = None

    @property
    def llm_enabled(self) -> bool:
        return self.llm is not None and self.llm.enabled
