"""`auditledger policy`: check a masking policy file, and show what it does for a tenant and action type.

    auditledger policy check FILE
        Validate FILE. Prints `ok: <sha256 of the file>` and a one-line summary; on an error prints
        `FILE:LINE: path.of.key: reason` to stderr.
    auditledger policy show [FILE] [--tenant T] [--action-type A] [--json]
        The effective plan for events of tenant T with action type A: each detector and its action,
        the field rules that apply, the hash key id, strict mode and scan limits. FILE defaults to the
        policy_file setting (AUDITLEDGER_POLICY_FILE), else the packaged default policy; without
        --tenant / --action-type, for a tenant / action type the policy does not name.

Exit codes: 0 success; 2 the policy is invalid or unreadable (the message says where and why).
The file format is described after the options.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from auditledger.config import Settings
from stream.masking import policy as policy_module
from stream.masking.plan import DETECTOR_NAMES, DetectorSetting, MaskingPlan
from stream.masking.policy import MaskingPolicy, default_policy, load_policy
from stream.masking.policy_errors import PolicyError

EXIT_OK, EXIT_ERROR = 0, 2
ANY = ""  # --tenant / --action-type not given: one the policy does not name


def _format_help() -> str:
    """The file format part of the policy module's docstring."""
    doc = policy_module.__doc__ or ""
    start = doc.find("A policy is a YAML mapping")
    return doc[start:] if start >= 0 else doc


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "policy",
        help="check a masking policy file, or show its effective plan for a tenant and action type",
        description=__doc__,
        epilog=_format_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="policy_action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="validate a policy file; print ok and its digest, or FILE:LINE: key: reason",
        description="Validate a masking policy file (see `auditledger policy --help` for the format).",
    )
    check.add_argument("file", metavar="FILE", help="the policy YAML file")
    show = actions.add_parser(
        "show",
        help="the effective detectors, field rules and hash key for a tenant and action type",
        description="Resolve a policy for one tenant and action type, as the stream would for an event.",
    )
    show.add_argument("file", metavar="FILE", nargs="?",
                      help="the policy YAML file (default: the policy_file setting, else the packaged one)")
    show.add_argument("--tenant", default=ANY, metavar="T", help="tenant (default: one the policy does not name)")
    show.add_argument(
        "--action-type",
        default=ANY,
        metavar="A",
        help="action type, e.g. db.query (default: one the policy does not name)",
    )
    show.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(run=run)


def summary(policy: MaskingPolicy) -> str:
    """One line: what the policy holds."""
    on = sum(1 for setting in policy.detectors.values() if setting is not None)
    keys = ", ".join(sorted(policy.hash_key_ids())) or "none"
    issuers = len(policy.identity.issuers)

    def count(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return (
        f"{policy.source}: {'strict' if policy.strict else 'not strict'}, "
        f"{on} of {len(DETECTOR_NAMES)} detectors on by default, {count(len(policy.rules), 'field rule')}, "
        f"{count(len(policy.action_types), 'action type override')}, {count(len(policy.tenants), 'tenant override')}, "
        f"hash keys: {keys}, {count(issuers, 'token issuer')}"
        + (f" ({', '.join(policy.identity.algorithms)})" if issuers else "")
    )


def _setting_json(setting: DetectorSetting | None) -> dict[str, Any] | None:
    if setting is None:
        return None
    return (
        {"action": setting.action, "keep": setting.keep} if setting.action == "partial" else {"action": setting.action}
    )


def _setting_text(setting: DetectorSetting | None) -> str:
    if setting is None:
        return "off"
    return f"partial (keep {setting.keep})" if setting.action == "partial" else setting.action


def plan_json(policy: MaskingPolicy, plan: MaskingPlan, action_type: str) -> dict[str, Any]:
    return {
        "source": policy.source,
        "digest": policy.digest,
        "tenant": plan.tenant,
        "action_type": action_type,
        "strict": plan.strict,
        "limits": {
            "max_field_bytes": plan.limits.max_field_bytes,
            "max_depth": plan.limits.max_depth,
            "max_nodes": plan.limits.max_nodes,
        },
        "hash_key_id": plan.hash_key_id,
        "detectors": {name: _setting_json(plan.detectors.get(name)) for name in DETECTOR_NAMES},
        "field_rules": [
            {
                "id": r.rule_id,
                "path": r.path,
                **({"action": r.action, "keep": r.keep} if r.action == "partial" else {"action": r.action}),
            }
            for r in plan.field_rules
        ],
    }


def _print_plan(policy: MaskingPolicy, plan: MaskingPlan, action_type: str) -> None:
    limits = plan.limits
    rows = [
        ("policy", policy.source),
        ("digest", policy.digest),
        ("tenant", plan.tenant or "(any tenant the policy does not name)"),
        ("action type", action_type or "(any action type the policy does not name)"),
        ("strict", "true" if plan.strict else "false"),
        (
            "limits",
            f"max_field_bytes {limits.max_field_bytes}, max_depth {limits.max_depth}, max_nodes {limits.max_nodes}",
        ),
        ("hash key", plan.hash_key_id or "(none)"),
    ]
    for label, value in rows:
        print(f"{label + ':':13s}{value}")
    on = len(plan.detectors)
    print(f"detectors ({on} on, {len(DETECTOR_NAMES) - on} off):")
    width = max(len(name) for name in DETECTOR_NAMES) + 2
    for name in DETECTOR_NAMES:
        print(f"  {name.ljust(width)}{_setting_text(plan.detectors.get(name))}")
    print(f"field rules ({len(plan.field_rules)}):" if plan.field_rules else "field rules: none")
    if plan.field_rules:
        id_width = max(len(r.rule_id) for r in plan.field_rules) + 2
        for rule in plan.field_rules:
            action = f"partial (keep {rule.keep})" if rule.action == "partial" else rule.action
            print(f"  {rule.rule_id.ljust(id_width)}{action.ljust(18)}{rule.path}")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.policy_action == "check":
            policy = load_policy(args.file)
            print(f"ok: {policy.digest}")
            print(summary(policy))
        else:
            named = args.file or settings.policy_file  # the file given, else the one the stream uses
            policy = load_policy(named) if named else default_policy()
            plan = policy.preview(args.tenant, args.action_type)
            if args.json:
                print(json.dumps(plan_json(policy, plan, args.action_type), indent=2))
            else:
                _print_plan(policy, plan, args.action_type)
    except PolicyError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK
