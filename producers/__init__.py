"""Producers: what agent code uses to publish audit events and to ask for approval before acting."""

from producers.approval_gate import (
    ApprovalDenied,
    ApprovalGate,
    ApprovalOutcome,
    ApprovalStates,
    KafkaApprovalStates,
    KafkaStepPublisher,
    StepPublisher,
    gated,
)

__all__ = [
    "ApprovalDenied",
    "ApprovalGate",
    "ApprovalOutcome",
    "ApprovalStates",
    "KafkaApprovalStates",
    "KafkaStepPublisher",
    "StepPublisher",
    "gated",
]
