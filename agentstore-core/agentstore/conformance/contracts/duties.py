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
        "Cross-process safety": (
            "test_log_appends_from_processes_are_contiguous",
            "test_rate_limit_hit_from_processes_*",
        ),
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
            "test_credential_names_are_sorted_and_never_values",
        ),
        "Secrets swap atomically; encryption builds on it": (
            "test_credential_swap_secret_*",
            "test_credential_encrypted_*",
            "test_credential_rotation_*",
        ),
        "Signed checkpoints ride on the log store": ("test_log_signed_*",),
        "Rate-limit windows": (
            "test_rate_limit_starts_at_zero",
            "test_rate_limit_increment_returns_the_window_total",
            "test_rate_limit_keys_are_independent",
            "test_rate_limit_*window*",
        ),
        "Rate-limit overflow refusal": ("test_rate_limit_total_past_64_bits_is_refused",),
        "Rate-limit hits are atomic and a refusal counts nothing": (
            "test_rate_limit_hit_fixed_window_allows_up_to_the_limit",
            "test_rate_limit_hit_refused_counts_nothing",
            "test_rate_limit_hit_counts_in_the_increment_window",
            "test_rate_limit_hit_strategies_count_apart_and_reset_together",
            "test_rate_limit_window_stats_counts_nothing",
        ),
        "Sliding windows weigh the previous window": (
            "test_rate_limit_sliding_window_weighs_the_previous_window",
        ),
        "Retry-After and reset times": (
            "test_rate_limit_hit_retry_after_is_when_a_hit_fits",
            "test_rate_limit_hit_reset_at_is_when_the_count_is_gone",
        ),
        "Lifecycle liveness": (
            "test_lifecycle_register_*",
            "test_lifecycle_live_*",
        ),
        # -- managing the governance stores
        "Listings are sorted, resumable and streamed": (
            "test_policy_agent_ids_are_sorted_*",
            "test_session_ids_are_sorted_*",
            "test_credential_names_are_sorted_*",
            "test_lifecycle_agents_lists_*",
            "test_*_stream_past_a_page*",
        ),
        "Sessions expire": (
            "test_session_ttl_*",
            "test_session_save_again_replaces_the_expiry",
            "test_session_purge_expired_*",
        ),
        "Lifecycle pruning": ("test_lifecycle_prune_*",),
        # -- tenant namespaces
        "Tenant names cannot alias": (
            "test_tenant_refuses_names_that_could_alias",
            "test_tenant_views_nest_no_further",
            "test_tenant_streams_are_confined_whatever_their_names",
            "test_tenant_generations_count_apart_under_threads",
        ),
        "A tenant's named data is its own": (
            "test_tenant_feed_*",
            "test_tenant_doorbell_*",
            "test_tenant_follow_*",
            "test_tenant_audit_*",
            "test_tenant_redaction_*",
            "test_tenant_secrets_*",
            "test_tenant_rate_limits_*",
            "test_tenant_increments_*",
        ),
        "Sessions, policies and agents per tenant": (
            "test_tenant_sessions_*",
            "test_tenant_policies_*",
            "test_tenant_agents_*",
        ),
        # -- the asyncio face
        "The asyncio face keeps the contract": ("test_aio_*",),
    }
)
"""Duty name -> the ``fnmatch`` patterns of the contract tests that check it."""


__all__ = ["DUTIES"]
