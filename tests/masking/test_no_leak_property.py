"""The property the masking engine exists for: no secret survives masking, whatever the action.

Thousands of generated events (tests/masking/secret_values.py) carry secrets of every detector kind
at random places: nested JSON values and keys, card numbers as JSON numbers, text fields, attribute
values. Each is masked with every detector on, under a mix of actions (including hash and partial)
and a few field rules;
no sensitive part may remain anywhere in the masked event, and masking the result again changes nothing.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.masking.engine import mask_event
from stream.masking.plan import DETECTOR_NAMES, MASK_ACTIONS, DetectorSetting, FieldRule, MaskingPlan
from tests.masking.secret_values import SecretValue, events_with_secrets, sensitive_leaks

EXAMPLES = 4000


# Field rules that sometimes apply to the generated events (which nest filler JSON under "data").
RULE_PATHS = (
    "payload.tool_arguments.data.*",
    "payload.parameters.data[*]",
    "payload.response.data.*.*",
    "payload.response.kind",
    "payload.attributes.retries",
    "source.host",
)


def plans() -> st.SearchStrategy[MaskingPlan]:
    """Every detector on, each with a random action and `keep` (sometimes one action for all), and a
    few field rules with random actions."""
    settings_ = st.builds(DetectorSetting, st.sampled_from(MASK_ACTIONS), st.integers(0, 12))
    per_detector = st.fixed_dictionaries({name: settings_ for name in DETECTOR_NAMES})
    uniform = settings_.map(lambda s: dict.fromkeys(DETECTOR_NAMES, s))
    rule = st.builds(
        lambda path, action, keep: FieldRule(f"r{RULE_PATHS.index(path)}", path, action, keep),
        st.sampled_from(RULE_PATHS),
        st.sampled_from(MASK_ACTIONS),
        st.integers(0, 8),
    )
    return st.builds(
        MaskingPlan,
        tenant=st.just("acme"),
        detectors=st.one_of(per_detector, uniform),
        field_rules=st.lists(rule, max_size=3, unique_by=lambda r: r.path).map(tuple),
        hash_key_id=st.just("mk-test"),
        hash_key=st.binary(min_size=16, max_size=32),
    )


@settings(max_examples=EXAMPLES, deadline=None)
@given(events_with_secrets(), plans())
def test_no_secret_survives_masking(sample: tuple[dict, list[SecretValue]], plan: MaskingPlan) -> None:
    event, secrets = sample
    masked = mask_event(event, plan)
    leaks = sensitive_leaks(masked.event, secrets)
    assert not leaks, f"left in the clear: {leaks}"
    for item in masked.manifest:
        for secret in secrets:
            assert secret.sensitive not in item.path
    assert masked.fields_touched >= 1
    assert all(item.count >= 1 for item in masked.manifest)

    again = mask_event(masked.event, plan)
    assert again.event == masked.event
    assert again.manifest == ()
