"""Every duty the contract tests check, by name: the index of docs/writing-a-driver.md.

Each duty names the contract tests that check it (``fnmatch`` patterns over the test
method names). A test of the suite checks that every contract test falls under a duty,
that every pattern matches a test, and that the guide lists every duty by name: a test
added here without a duty, or a duty left out of the guide, fails the build.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

DUTIES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        # -- the store as a whole
        "Close semantics": (
            "test_use_after_close_raises",
            "test_handles_obtained_before_close_refuse_after_it",
        ),
        "create=False creates nothing": ("test_open_without_create_*",),
        "Persistence": ("test_*_persists_across_reopen",),
        "Two stores see each other's writes": (
            "test_*_exact_across_stores",
            "test_log_appends_from_two_stores_interleave",
            "test_doorbell_subscriber_sees_the_commit_from_another_store",
        ),
        "Cross-process safety": ("test_log_appends_from_processes_are_contiguous",),
        "Thread safety": ("test_*_under_threads", "test_*_concurrent_*"),
        "Handles share state": ("test_*_handles_share_state",),
        # -- generations
        "Generations only move forward": (
            "test_generation_starts_at_zero",
            "test_generation_first_bump_is_one_then_contiguous",
            "test_generation_names_are_independent",
            "test_generation_advance_*",
        ),
        # -- writer logs and the audit chain
        "Seq contiguity": (
            "test_log_empty",
            "test_log_seq_is_per_stream_and_writer",
            "test_log_append_many*",
            "test_audit_empty",
        ),
        "Chain hashing is byte-compatible": (
            "test_log_genesis_entry",
            "test_log_chain_*",
            "test_audit_emit_chains",
        ),
        "Entries stream in seq order": ("test_log_entries_*", "test_audit_records_is_an_iterator"),
        "logs() order": ("test_logs_are_sorted_by_stream_then_writer",),
        "Tamper detection": ("test_log_tamper_*", "test_audit_tamper_*"),
        "Recorded heads and truncation": (
            "test_log_tamper_deleted_last_entry*",
            "test_log_tamper_deleted_every_entry",
            "test_audit_tamper_deleted_last_entry",
        ),
        # -- the doorbell
        "Doorbell after commit": (
            "test_doorbell_rings_*",
            "test_doorbell_subscriber_reads_*",
            "test_doorbell_rejected_append_rings_nothing",
            "test_doorbell_each_store_has_its_own",
        ),
        "Doorbell subscriptions": (
            "test_doorbell_failing_subscriber_*",
            "test_doorbell_unsubscribe",
            "test_doorbell_subscription_as_context_manager",
        ),
        # -- the commit feed, conditional appends, stream reads, erasure
        "Commit positions and the feed": (
            "test_feed_of_an_empty_store",
            "test_feed_positions_*",
            "test_feed_after_and_limit",
            "test_feed_rejects_bad_arguments",
            "test_feed_includes_audit_records",
            "test_feed_is_shared_by_every_store_on_the_storage",
        ),
        "The feed streams in bounded memory": ("test_feed_streams_in_bounded_memory",),
        "No late gaps": ("test_feed_no_late_gaps_*",),
        "Doorbell positions and follow": (
            "test_feed_doorbell_events_carry_positions",
            "test_feed_follow_*",
        ),
        "Conditional appends (expect_head)": ("test_expect_head_*",),
        "One stream across writers": ("test_stream_*",),
        "Erasure keeps the chain verifiable": ("test_redact_*",),
        # -- the governance stores
        "Records round-trip exactly": (
            "test_*_bytes_like_*",
            "test_log_large_payload_round_trips",
            "test_log_unicode_names_round_trip",
            "test_audit_entries_round_trip",
            "test_*_deepest_value_round_trips",
            "test_credential_largest_value",
            "test_generation_longest_name_is_accepted",
        ),
        "Put overwrites, get finds": (
            "test_policy_put_*",
            "test_policy_agents_are_independent",
            "test_policy_empty_document",
            "test_session_save_*",
            "test_credential_put_*",
        ),
        "Absent is NotFound, deleting is idempotent": (
            "test_*_absent_raises_not_found",
            "test_*_is_idempotent",
            "test_lifecycle_unregistered_agent_is_not_found",
        ),
        "Values are immutable": ("test_*_values_are_detached_and_frozen",),
        "Bad input is refused and stores nothing": (
            "test_*_rejects_*",
            "test_*_refuses_*",
            "test_log_reserved_stream_prefix_is_refused",
        ),
        "Secrets are never shown": (
            "test_credential_value_never_shown",
            "test_credential_rejects_non_bytes_without_echoing_it",
        ),
        "Rate-limit windows": (
            "test_rate_limit_starts_at_zero",
            "test_rate_limit_increment_returns_the_window_total",
            "test_rate_limit_keys_are_independent",
            "test_rate_limit_*window*",
        ),
        "Rate-limit overflow refusal": ("test_rate_limit_total_past_64_bits_is_refused",),
        "Lifecycle liveness": (
            "test_lifecycle_register_*",
            "test_lifecycle_live_*",
        ),
        # -- the asyncio face
        "The asyncio face keeps the contract": ("test_aio_*",),
    }
)
"""Duty name -> the ``fnmatch`` patterns of the contract tests that check it."""


__all__ = ["DUTIES"]
