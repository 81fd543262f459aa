"""The LLM side of the review: settings, a retrying JSON chat client, prompt packing, the reviewer."""

from reviewops.analysis.llm.client import LLMSkipped, chat_json
from reviewops.analysis.llm.settings import LLMSettings

__all__ = ["LLMSettings", "LLMSkipped", "chat_json"]
