from reviewops.policy.store import ReviewSettings
from reviewops.reviews.settings import analyzer_enabled, effective_analyzers


def test_tenant_flags_override_the_policy() -> None:
    policy = ReviewSettings(analyzers={"llm": True, "secrets": True})
    tenant = {"analyzers": {"llm": False}}
    assert effective_analyzers(policy, tenant) == {"llm": False, "secrets": True}
    assert not analyzer_enabled("llm", policy, tenant)
    assert analyzer_enabled("secrets", policy, tenant)
    assert analyzer_enabled("other", None, {}) and not analyzer_enabled("other", None, None, default=False)
    assert effective_analyzers(None, {"analyzers": "garbage"}) == {}
