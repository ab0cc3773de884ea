/**
 * palisade_audit.column_classification: every column that palisade_app can reach, classified
 * once, here and nowhere else (the table: sql/V0110__create_column_classification.sql).
 *
 *   readable  palisade_app may SELECT it: it is in query results, `RETURNING`, and the
 *             organization's export (GET /v1/organization/export selects every column the app
 *             role may SELECT). `reason` is optional, given where the name could mislead.
 *   secret    a credential or what verifies one (password and key hashes, tokens, signing
 *             secrets). palisade_app has no SELECT on it, through column grants in the table's
 *             own policy file: it may write it (INSERT, UPDATE ... SET col = $1) but never read
 *             it, refer to it in a WHERE, or return it. `reason` says what it protects. A lookup
 *             by a secret goes through a SECURITY DEFINER resolver (020_resolvers.sql,
 *             028_api_key_resolvers.sql).
 *
 * "Reach" means any privilege of palisade_app (directly, through a role it is a member of, or
 * through PUBLIC) on the table or on one of its columns, in any schema but the system ones:
 * then every column of that table is listed, whatever its privileges today.
 *
 * What checks it (each fails on an unclassified column the app role can reach, on a secret
 * column the app role may SELECT, on a listed column that no longer exists, and on a readable
 * generated or view column computed from a secret column without a reason saying why it is safe):
 *   - the audit view palisade_audit.columns and its violations (900_audit.sql), so `palisade
 *     audit` and `SELECT * FROM palisade_audit.violations` report them;
 *   - tests/api/column_secrecy.rs, straight from the catalog, as the app role.
 * A row added here by hand in a live database is drift (`palisade audit`); the next
 * `palisade migrate` rewrites the table from this file.
 *
 * How to add a column (or a table palisade_app may use):
 *   1. Add the column in a migration (sql/).
 *   2. Add one row here per new column, in its table's block: 'readable', or 'secret' with the
 *      reason. A token, a hash of a credential, a key or a signing secret is secret.
 *   3. In the table's policy file: a readable column joins the table's SELECT grant (a table
 *      with a secret column grants SELECT column by column: `REVOKE ALL ... ; GRANT SELECT (a,
 *      b, ...)`); a secret column is never in a SELECT grant, and its table then must not have a
 *      table-wide SELECT grant. INSERT and UPDATE may name it.
 *   4. In Rust, never SELECT or RETURN it (and no `SELECT *`/`RETURNING *` on its table): the
 *      database would refuse with "permission denied", which is the point.
 * `cargo test` (tests/api/column_secrecy.rs) says which step is missing.
 *
 * Re-written on every apply, like the allow-list (910_audit_allow_list.sql).
 */
DELETE FROM palisade_audit.column_classification;
INSERT INTO palisade_audit.column_classification
    (schema_name, table_name, column_name, classification, reason)
VALUES
    -- palisade.analytics_events
    ('palisade', 'analytics_events', 'organization_id', 'readable', NULL),
    ('palisade', 'analytics_events', 'id', 'readable', NULL),
    ('palisade', 'analytics_events', 'event_type', 'readable', NULL),
    ('palisade', 'analytics_events', 'occurred_at', 'readable', NULL),
    ('palisade', 'analytics_events', 'properties', 'readable', NULL),
    ('palisade', 'analytics_events', 'customer_id', 'readable', NULL),
    ('palisade', 'analytics_events', 'created_at', 'readable', NULL),
    ('palisade', 'analytics_events', 'updated_at', 'readable', NULL),

    -- palisade.api_keys
    ('palisade', 'api_keys', 'organization_id', 'readable', NULL),
    ('palisade', 'api_keys', 'id', 'readable', NULL),
    ('palisade', 'api_keys', 'name', 'readable', NULL),
    ('palisade', 'api_keys', 'role', 'readable', NULL),
    ('palisade', 'api_keys', 'prefix', 'readable', 'The key''s first 11 characters (pk_ and 8 of its 43 random ones), shown to tell keys apart; the other 208 random bits stay unknown.'),
    ('palisade', 'api_keys', 'key_hash', 'secret', 'SHA-256 of an API key, which authenticates as its creator: the key is found by it only through palisade_private.api_key_lookup and api_key_find (028_api_key_resolvers.sql).'),
    ('palisade', 'api_keys', 'created_by', 'readable', NULL),
    ('palisade', 'api_keys', 'last_used_at', 'readable', NULL),
    ('palisade', 'api_keys', 'revoked_at', 'readable', NULL),
    ('palisade', 'api_keys', 'expires_at', 'readable', NULL),
    ('palisade', 'api_keys', 'created_at', 'readable', NULL),
    ('palisade', 'api_keys', 'updated_at', 'readable', NULL),

    -- palisade.calls
    ('palisade', 'calls', 'organization_id', 'readable', NULL),
    ('palisade', 'calls', 'id', 'readable', NULL),
    ('palisade', 'calls', 'voice_campaign_id', 'readable', NULL),
    ('palisade', 'calls', 'customer_id', 'readable', NULL),
    ('palisade', 'calls', 'direction', 'readable', NULL),
    ('palisade', 'calls', 'from_number', 'readable', NULL),
    ('palisade', 'calls', 'to_number', 'readable', NULL),
    ('palisade', 'calls', 'call_sid', 'readable', NULL),
    ('palisade', 'calls', 'status', 'readable', NULL),
    ('palisade', 'calls', 'duration_seconds', 'readable', NULL),
    ('palisade', 'calls', 'started_at', 'readable', NULL),
    ('palisade', 'calls', 'ended_at', 'readable', NULL),
    ('palisade', 'calls', 'last_sequence_number', 'readable', NULL),
    ('palisade', 'calls', 'notes', 'readable', NULL),
    ('palisade', 'calls', 'connect_contact_id', 'readable', 'The Amazon Connect contact id, not a credential.'),
    ('palisade', 'calls', 'connect_instance_id', 'readable', NULL),
    ('palisade', 'calls', 'queue_arn', 'readable', NULL),
    ('palisade', 'calls', 'agent_arn', 'readable', NULL),
    ('palisade', 'calls', 'created_at', 'readable', NULL),
    ('palisade', 'calls', 'updated_at', 'readable', NULL),
    ('palisade', 'calls', 'change_xid', 'readable',
     'the id of the transaction that last wrote the row: a cluster-wide counter, so never sent to a client as it is (the changes feed seals it in its tokens; the export leaves xid8 columns out)'),

    -- palisade.chat_conversations
    ('palisade', 'chat_conversations', 'organization_id', 'readable', NULL),
    ('palisade', 'chat_conversations', 'id', 'readable', NULL),
    ('palisade', 'chat_conversations', 'customer_id', 'readable', NULL),
    ('palisade', 'chat_conversations', 'subject', 'readable', NULL),
    ('palisade', 'chat_conversations', 'status', 'readable', NULL),
    ('palisade', 'chat_conversations', 'connect_contact_id', 'readable', 'The Amazon Connect contact id, not a credential.'),
    ('palisade', 'chat_conversations', 'connect_instance_id', 'readable', NULL),
    ('palisade', 'chat_conversations', 'created_at', 'readable', NULL),
    ('palisade', 'chat_conversations', 'updated_at', 'readable', NULL),
    ('palisade', 'chat_conversations', 'change_xid', 'readable',
     'the id of the transaction that last wrote the row: a cluster-wide counter, so never sent to a client as it is (the changes feed seals it in its tokens; the export leaves xid8 columns out)'),
    ('palisade', 'chat_conversations', 'handed_off_at', 'readable', NULL),
    ('palisade', 'chat_conversations', 'handoff_reason', 'readable', NULL),

    -- palisade.chat_messages
    ('palisade', 'chat_messages', 'organization_id', 'readable', NULL),
    ('palisade', 'chat_messages', 'id', 'readable', NULL),
    ('palisade', 'chat_messages', 'conversation_id', 'readable', NULL),
    ('palisade', 'chat_messages', 'sender', 'readable', NULL),
    ('palisade', 'chat_messages', 'body', 'readable', NULL),
    ('palisade', 'chat_messages', 'created_at', 'readable', NULL),
    ('palisade', 'chat_messages', 'updated_at', 'readable', NULL),
    ('palisade', 'chat_messages', 'change_xid', 'readable',
     'the id of the transaction that last wrote the row: a cluster-wide counter, so never sent to a client as it is (the changes feed seals it in its tokens; the export leaves xid8 columns out)'),
    ('palisade', 'chat_messages', 'article_id', 'readable', NULL),
    ('palisade', 'chat_messages', 'score', 'readable', NULL),

    -- palisade.chatbot_settings
    ('palisade', 'chatbot_settings', 'organization_id', 'readable', NULL),
    ('palisade', 'chatbot_settings', 'id', 'readable', NULL),
    ('palisade', 'chatbot_settings', 'enabled', 'readable', NULL),
    ('palisade', 'chatbot_settings', 'greeting', 'readable', NULL),
    ('palisade', 'chatbot_settings', 'fallback_text', 'readable', NULL),
    ('palisade', 'chatbot_settings', 'confidence_threshold', 'readable', NULL),
    ('palisade', 'chatbot_settings', 'handoff_message', 'readable', NULL),
    ('palisade', 'chatbot_settings', 'created_at', 'readable', NULL),
    ('palisade', 'chatbot_settings', 'updated_at', 'readable', NULL),

    -- palisade.customers
    ('palisade', 'customers', 'organization_id', 'readable', NULL),
    ('palisade', 'customers', 'id', 'readable', NULL),
    ('palisade', 'customers', 'name', 'readable', NULL),
    ('palisade', 'customers', 'email', 'readable', NULL),
    ('palisade', 'customers', 'phone', 'readable', NULL),
    ('palisade', 'customers', 'created_at', 'readable', NULL),
    ('palisade', 'customers', 'updated_at', 'readable', NULL),
    ('palisade', 'customers', 'change_xid', 'readable',
     'the id of the transaction that last wrote the row: a cluster-wide counter, so never sent to a client as it is (the changes feed seals it in its tokens; the export leaves xid8 columns out)'),

    -- palisade.deleted_rows
    ('palisade', 'deleted_rows', 'organization_id', 'readable', NULL),
    ('palisade', 'deleted_rows', 'resource', 'readable', NULL),
    ('palisade', 'deleted_rows', 'row_id', 'readable', NULL),
    ('palisade', 'deleted_rows', 'change_xid', 'readable',
     'the id of the deleting transaction: a cluster-wide counter, so never sent to a client as it is (the changes feed seals it in its tokens; the export leaves xid8 columns out)'),
    ('palisade', 'deleted_rows', 'deleted_at', 'readable', NULL),

    -- palisade.pruned_deletion_records
    ('palisade', 'pruned_deletion_records', 'organization_id', 'readable', NULL),
    ('palisade', 'pruned_deletion_records', 'pruned_xid', 'readable',
     'the newest deleting transaction among the deletion records retention removed: a cluster-wide counter, so never sent to a client as it is (the changes feed compares it with its tokens; the export leaves xid8 columns out)'),
    ('palisade', 'pruned_deletion_records', 'pruned_at', 'readable', NULL),

    -- palisade.email_campaigns
    ('palisade', 'email_campaigns', 'organization_id', 'readable', NULL),
    ('palisade', 'email_campaigns', 'id', 'readable', NULL),
    ('palisade', 'email_campaigns', 'name', 'readable', NULL),
    ('palisade', 'email_campaigns', 'subject', 'readable', NULL),
    ('palisade', 'email_campaigns', 'body', 'readable', NULL),
    ('palisade', 'email_campaigns', 'status', 'readable', NULL),
    ('palisade', 'email_campaigns', 'scheduled_at', 'readable', NULL),
    ('palisade', 'email_campaigns', 'sent_count', 'readable', NULL),
    ('palisade', 'email_campaigns', 'delivered_count', 'readable', NULL),
    ('palisade', 'email_campaigns', 'opened_count', 'readable', NULL),
    ('palisade', 'email_campaigns', 'clicked_count', 'readable', NULL),
    ('palisade', 'email_campaigns', 'bounced_count', 'readable', NULL),
    ('palisade', 'email_campaigns', 'failed_count', 'readable', NULL),
    ('palisade', 'email_campaigns', 'created_at', 'readable', NULL),
    ('palisade', 'email_campaigns', 'updated_at', 'readable', NULL),
    ('palisade', 'email_campaigns', 'change_xid', 'readable',
     'the id of the transaction that last wrote the row: a cluster-wide counter, so never sent to a client as it is (the changes feed seals it in its tokens; the export leaves xid8 columns out)'),

    -- palisade.email_messages
    ('palisade', 'email_messages', 'organization_id', 'readable', NULL),
    ('palisade', 'email_messages', 'id', 'readable', NULL),
    ('palisade', 'email_messages', 'campaign_id', 'readable', NULL),
    ('palisade', 'email_messages', 'customer_id', 'readable', NULL),
    ('palisade', 'email_messages', 'to_email', 'readable', NULL),
    ('palisade', 'email_messages', 'status', 'readable', NULL),
    ('palisade', 'email_messages', 'provider_message_id', 'readable', NULL),
    ('palisade', 'email_messages', 'sent_at', 'readable', NULL),
    ('palisade', 'email_messages', 'delivered_at', 'readable', NULL),
    ('palisade', 'email_messages', 'opened_at', 'readable', NULL),
    ('palisade', 'email_messages', 'clicked_at', 'readable', NULL),
    ('palisade', 'email_messages', 'failed_at', 'readable', NULL),
    ('palisade', 'email_messages', 'created_at', 'readable', NULL),
    ('palisade', 'email_messages', 'updated_at', 'readable', NULL),
    ('palisade', 'email_messages', 'change_xid', 'readable',
     'the id of the transaction that last wrote the row: a cluster-wide counter, so never sent to a client as it is (the changes feed seals it in its tokens; the export leaves xid8 columns out)'),

    -- palisade.idempotency_keys
    ('palisade', 'idempotency_keys', 'organization_id', 'readable', NULL),
    ('palisade', 'idempotency_keys', 'key', 'readable', 'The client''s Idempotency-Key: a label the client chose for one request, not a credential (it only replays a response to the organization that sent it).'),
    ('palisade', 'idempotency_keys', 'request_hash', 'secret', 'SHA-256 of the method, path, user id and body the key was first used for: a body may carry a write-only secret (an integration''s secrets, a social account''s access token), which it would let a reader guess offline; compared only through palisade_private.idempotency_request_matches.'),
    ('palisade', 'idempotency_keys', 'response_status', 'readable', NULL),
    ('palisade', 'idempotency_keys', 'response_body', 'readable', 'The first response, stored without the secret a few responses carry once (an API key, a webhook signing secret).'),
    ('palisade', 'idempotency_keys', 'response_location', 'readable', NULL),
    ('palisade', 'idempotency_keys', 'created_at', 'readable', NULL),

    -- palisade.integrations
    ('palisade', 'integrations', 'organization_id', 'readable', NULL),
    ('palisade', 'integrations', 'id', 'readable', NULL),
    ('palisade', 'integrations', 'provider', 'readable', NULL),
    ('palisade', 'integrations', 'name', 'readable', NULL),
    ('palisade', 'integrations', 'config', 'readable', NULL),
    ('palisade', 'integrations', 'secrets', 'secret', 'Credentials of the connected service (tokens, passwords): written by admins, never shown again.'),
    ('palisade', 'integrations', 'secret_keys', 'readable', 'Only the names of the secrets that are set, never their values.'),
    ('palisade', 'integrations', 'has_secrets', 'readable', 'Generated from cardinality(secret_keys) > 0: whether any secret is set, which the API shows; never a secret.'),
    ('palisade', 'integrations', 'enabled', 'readable', NULL),
    ('palisade', 'integrations', 'created_at', 'readable', NULL),
    ('palisade', 'integrations', 'updated_at', 'readable', NULL),

    -- palisade.invitations
    ('palisade', 'invitations', 'organization_id', 'readable', NULL),
    ('palisade', 'invitations', 'id', 'readable', NULL),
    ('palisade', 'invitations', 'email', 'readable', NULL),
    ('palisade', 'invitations', 'role', 'readable', NULL),
    ('palisade', 'invitations', 'invited_by', 'readable', NULL),
    ('palisade', 'invitations', 'created_at', 'readable', NULL),
    ('palisade', 'invitations', 'expires_at', 'readable', NULL),
    ('palisade', 'invitations', 'token_hash', 'secret', 'SHA-256 of the single-use invitation link token: whoever can match it joins the organization. Looked up only by palisade_private.invitation_by_token (023_accounts.sql).'),

    -- palisade.invoices
    ('palisade', 'invoices', 'organization_id', 'readable', NULL),
    ('palisade', 'invoices', 'id', 'readable', NULL),
    ('palisade', 'invoices', 'stripe_invoice_id', 'readable', NULL),
    ('palisade', 'invoices', 'stripe_subscription_id', 'readable', NULL),
    ('palisade', 'invoices', 'number', 'readable', NULL),
    ('palisade', 'invoices', 'status', 'readable', NULL),
    ('palisade', 'invoices', 'currency', 'readable', NULL),
    ('palisade', 'invoices', 'subtotal_cents', 'readable', NULL),
    ('palisade', 'invoices', 'total_cents', 'readable', NULL),
    ('palisade', 'invoices', 'amount_due_cents', 'readable', NULL),
    ('palisade', 'invoices', 'amount_paid_cents', 'readable', NULL),
    ('palisade', 'invoices', 'period_start', 'readable', NULL),
    ('palisade', 'invoices', 'period_end', 'readable', NULL),
    ('palisade', 'invoices', 'due_at', 'readable', NULL),
    ('palisade', 'invoices', 'paid_at', 'readable', NULL),
    ('palisade', 'invoices', 'hosted_invoice_url', 'readable', 'Stripe''s page for the organization''s own invoice, meant for its members to open and pay.'),
    ('palisade', 'invoices', 'stripe_updated_at', 'readable', NULL),
    ('palisade', 'invoices', 'created_at', 'readable', NULL),
    ('palisade', 'invoices', 'updated_at', 'readable', NULL),

    -- palisade.aws_connect_instances
    ('palisade', 'aws_connect_instances', 'organization_id', 'readable', NULL),
    ('palisade', 'aws_connect_instances', 'id', 'readable', NULL),
    ('palisade', 'aws_connect_instances', 'instance_arn', 'readable', 'An Amazon Connect instance ARN identifies an instance; it grants nothing.'),
    ('palisade', 'aws_connect_instances', 'region', 'readable', NULL),
    ('palisade', 'aws_connect_instances', 'label', 'readable', NULL),
    ('palisade', 'aws_connect_instances', 'created_at', 'readable', NULL),
    ('palisade', 'aws_connect_instances', 'updated_at', 'readable', NULL),
    -- palisade.aws_connect_credentials
    ('palisade', 'aws_connect_credentials', 'organization_id', 'readable', NULL),
    ('palisade', 'aws_connect_credentials', 'id', 'readable', NULL),
    ('palisade', 'aws_connect_credentials', 'label', 'readable', NULL),
    ('palisade', 'aws_connect_credentials', 'prefix', 'readable', 'pcc_ and 8 of the 43 random characters: enough to recognise a credential, far too little to guess it.'),
    ('palisade', 'aws_connect_credentials', 'key_hash', 'secret', 'SHA-256 of an Amazon Connect event credential, which routes events to its organization: found by it only through palisade_private.aws_connect_credential_lookup (026_aws_connect_resolvers.sql).'),
    ('palisade', 'aws_connect_credentials', 'created_by', 'readable', NULL),
    ('palisade', 'aws_connect_credentials', 'last_used_at', 'readable', NULL),
    ('palisade', 'aws_connect_credentials', 'revoked_at', 'readable', NULL),
    ('palisade', 'aws_connect_credentials', 'created_at', 'readable', NULL),
    ('palisade', 'aws_connect_credentials', 'updated_at', 'readable', NULL),
    -- palisade.ivr_menus
    ('palisade', 'ivr_menus', 'organization_id', 'readable', NULL),
    ('palisade', 'ivr_menus', 'id', 'readable', NULL),
    ('palisade', 'ivr_menus', 'name', 'readable', NULL),
    ('palisade', 'ivr_menus', 'tree', 'readable', NULL),
    ('palisade', 'ivr_menus', 'created_at', 'readable', NULL),
    ('palisade', 'ivr_menus', 'updated_at', 'readable', NULL),
    ('palisade', 'ivr_menus', 'change_xid', 'readable',
     'the id of the transaction that last wrote the row: a cluster-wide counter, so never sent to a client as it is (the changes feed seals it in its tokens; the export leaves xid8 columns out)'),

    -- palisade.kb_articles
    ('palisade', 'kb_articles', 'organization_id', 'readable', NULL),
    ('palisade', 'kb_articles', 'id', 'readable', NULL),
    ('palisade', 'kb_articles', 'title', 'readable', NULL),
    ('palisade', 'kb_articles', 'body', 'readable', NULL),
    ('palisade', 'kb_articles', 'tags', 'readable', NULL),
    ('palisade', 'kb_articles', 'published', 'readable', NULL),
    ('palisade', 'kb_articles', 'search', 'readable', NULL),
    ('palisade', 'kb_articles', 'created_at', 'readable', NULL),
    ('palisade', 'kb_articles', 'updated_at', 'readable', NULL),
    ('palisade', 'kb_articles', 'change_xid', 'readable',
     'the id of the transaction that last wrote the row: a cluster-wide counter, so never sent to a client as it is (the changes feed seals it in its tokens; the export leaves xid8 columns out)'),

    -- palisade.organizations
    ('palisade', 'organizations', 'id', 'readable', NULL),
    ('palisade', 'organizations', 'name', 'readable', NULL),
    ('palisade', 'organizations', 'created_at', 'readable', NULL),
    ('palisade', 'organizations', 'updated_at', 'readable', NULL),
    ('palisade', 'organizations', 'stripe_customer_id', 'readable', 'An identifier at Stripe, not a credential: nothing can be done with it without the platform''s Stripe secret key, which Palisade does not hold.'),
    ('palisade', 'organizations', 'plan', 'readable', NULL),
    ('palisade', 'organizations', 'plan_status', 'readable', NULL),

    -- palisade.outbound_webhooks
    ('palisade', 'outbound_webhooks', 'organization_id', 'readable', NULL),
    ('palisade', 'outbound_webhooks', 'id', 'readable', NULL),
    ('palisade', 'outbound_webhooks', 'url', 'readable', NULL),
    ('palisade', 'outbound_webhooks', 'description', 'readable', NULL),
    ('palisade', 'outbound_webhooks', 'event_types', 'readable', NULL),
    ('palisade', 'outbound_webhooks', 'enabled', 'readable', NULL),
    ('palisade', 'outbound_webhooks', 'signing_secret', 'secret', 'Signs the events Palisade sends; whoever reads it can forge them. Shown once, when generated or rotated.'),
    ('palisade', 'outbound_webhooks', 'has_signing_secret', 'readable', 'Generated from signing_secret IS NOT NULL: that a secret is set, which the API shows; never the secret.'),
    ('palisade', 'outbound_webhooks', 'created_at', 'readable', NULL),
    ('palisade', 'outbound_webhooks', 'updated_at', 'readable', NULL),
    ('palisade', 'outbound_webhooks', 'disabled_reason', 'readable', NULL),
    ('palisade', 'outbound_webhooks', 'disabled_at', 'readable', NULL),
    ('palisade', 'outbound_webhooks', 'enabled_by', 'readable', 'The user whose access keeps the webhook enabled (sql/V0172); a user id, as api_keys.created_by.'),

    -- palisade.outbound_webhook_events
    ('palisade', 'outbound_webhook_events', 'organization_id', 'readable', NULL),
    ('palisade', 'outbound_webhook_events', 'id', 'readable', 'The webhook-id header every attempt of the event carries.'),
    ('palisade', 'outbound_webhook_events', 'type', 'readable', NULL),
    ('palisade', 'outbound_webhook_events', 'data', 'readable', 'What the event is about: object ids and statuses, written by the triggers of sql/V0150.'),
    ('palisade', 'outbound_webhook_events', 'occurred_at', 'readable', NULL),

    -- palisade.outbound_webhook_deliveries
    ('palisade', 'outbound_webhook_deliveries', 'organization_id', 'readable', NULL),
    ('palisade', 'outbound_webhook_deliveries', 'id', 'readable', NULL),
    ('palisade', 'outbound_webhook_deliveries', 'webhook_id', 'readable', NULL),
    ('palisade', 'outbound_webhook_deliveries', 'event_id', 'readable', NULL),
    ('palisade', 'outbound_webhook_deliveries', 'event_type', 'readable', NULL),
    ('palisade', 'outbound_webhook_deliveries', 'status', 'readable', NULL),
    ('palisade', 'outbound_webhook_deliveries', 'attempt_count', 'readable', NULL),
    ('palisade', 'outbound_webhook_deliveries', 'next_attempt_at', 'readable', NULL),
    ('palisade', 'outbound_webhook_deliveries', 'leased_until', 'readable', NULL),
    ('palisade', 'outbound_webhook_deliveries', 'last_attempt_at', 'readable', NULL),
    ('palisade', 'outbound_webhook_deliveries', 'last_response_status', 'readable', NULL),
    ('palisade', 'outbound_webhook_deliveries', 'last_latency_ms', 'readable', NULL),
    ('palisade', 'outbound_webhook_deliveries', 'last_error', 'readable', 'A code of ours (sql/V0150), never the receiver''s words.'),
    ('palisade', 'outbound_webhook_deliveries', 'created_at', 'readable', NULL),
    ('palisade', 'outbound_webhook_deliveries', 'updated_at', 'readable', NULL),

    -- palisade.email_verifications
    ('palisade', 'email_verifications', 'organization_id', 'readable', NULL),
    ('palisade', 'email_verifications', 'id', 'readable', NULL),
    ('palisade', 'email_verifications', 'user_id', 'readable', NULL),
    ('palisade', 'email_verifications', 'created_at', 'readable', NULL),
    ('palisade', 'email_verifications', 'expires_at', 'readable', NULL),
    ('palisade', 'email_verifications', 'token_hash', 'secret', 'SHA-256 of the single-use email verification link token: whoever can match it verifies the user''s address. Looked up only by palisade_private.verify_email (023_accounts.sql).'),

    -- palisade.password_resets
    ('palisade', 'password_resets', 'organization_id', 'readable', NULL),
    ('palisade', 'password_resets', 'id', 'readable', NULL),
    ('palisade', 'password_resets', 'user_id', 'readable', NULL),
    ('palisade', 'password_resets', 'created_at', 'readable', NULL),
    ('palisade', 'password_resets', 'expires_at', 'readable', NULL),
    ('palisade', 'password_resets', 'token_hash', 'secret', 'SHA-256 of the single-use password-reset link token: whoever can match it sets the user''s password. Looked up only by palisade_private.reset_password (023_accounts.sql).'),

    -- palisade.phone_numbers
    ('palisade', 'phone_numbers', 'organization_id', 'readable', NULL),
    ('palisade', 'phone_numbers', 'id', 'readable', NULL),
    ('palisade', 'phone_numbers', 'number', 'readable', NULL),
    ('palisade', 'phone_numbers', 'label', 'readable', NULL),
    ('palisade', 'phone_numbers', 'capabilities', 'readable', NULL),
    ('palisade', 'phone_numbers', 'ivr_menu_id', 'readable', NULL),
    ('palisade', 'phone_numbers', 'created_at', 'readable', NULL),
    ('palisade', 'phone_numbers', 'updated_at', 'readable', NULL),
    ('palisade', 'phone_numbers', 'sms_number', 'readable', 'Generated: the number itself while it has the sms capability, the target of the outbound-sender foreign keys (V0070).'),

    -- palisade.reports
    ('palisade', 'reports', 'organization_id', 'readable', NULL),
    ('palisade', 'reports', 'id', 'readable', NULL),
    ('palisade', 'reports', 'name', 'readable', NULL),
    ('palisade', 'reports', 'kind', 'readable', NULL),
    ('palisade', 'reports', 'parameters', 'readable', NULL),
    ('palisade', 'reports', 'schedule', 'readable', NULL),
    ('palisade', 'reports', 'created_at', 'readable', NULL),
    ('palisade', 'reports', 'updated_at', 'readable', NULL),

    -- palisade.sms_campaigns
    ('palisade', 'sms_campaigns', 'organization_id', 'readable', NULL),
    ('palisade', 'sms_campaigns', 'id', 'readable', NULL),
    ('palisade', 'sms_campaigns', 'name', 'readable', NULL),
    ('palisade', 'sms_campaigns', 'body', 'readable', NULL),
    ('palisade', 'sms_campaigns', 'from_number', 'readable', NULL),
    ('palisade', 'sms_campaigns', 'status', 'readable', NULL),
    ('palisade', 'sms_campaigns', 'scheduled_at', 'readable', NULL),
    ('palisade', 'sms_campaigns', 'sent_count', 'readable', NULL),
    ('palisade', 'sms_campaigns', 'delivered_count', 'readable', NULL),
    ('palisade', 'sms_campaigns', 'undelivered_count', 'readable', NULL),
    ('palisade', 'sms_campaigns', 'failed_count', 'readable', NULL),
    ('palisade', 'sms_campaigns', 'created_at', 'readable', NULL),
    ('palisade', 'sms_campaigns', 'updated_at', 'readable', NULL),
    ('palisade', 'sms_campaigns', 'change_xid', 'readable',
     'the id of the transaction that last wrote the row: a cluster-wide counter, so never sent to a client as it is (the changes feed seals it in its tokens; the export leaves xid8 columns out)'),
    ('palisade', 'sms_campaigns', 'active_from_number', 'readable', 'Generated: from_number while the campaign can still send, checked against the organization''s own numbers (V0070).'),

    -- palisade.sms_messages
    ('palisade', 'sms_messages', 'organization_id', 'readable', NULL),
    ('palisade', 'sms_messages', 'id', 'readable', NULL),
    ('palisade', 'sms_messages', 'campaign_id', 'readable', NULL),
    ('palisade', 'sms_messages', 'customer_id', 'readable', NULL),
    ('palisade', 'sms_messages', 'direction', 'readable', NULL),
    ('palisade', 'sms_messages', 'from_number', 'readable', NULL),
    ('palisade', 'sms_messages', 'to_number', 'readable', NULL),
    ('palisade', 'sms_messages', 'body', 'readable', NULL),
    ('palisade', 'sms_messages', 'status', 'readable', NULL),
    ('palisade', 'sms_messages', 'carrier_sid', 'readable', NULL),
    ('palisade', 'sms_messages', 'error_code', 'readable', NULL),
    ('palisade', 'sms_messages', 'sent_at', 'readable', NULL),
    ('palisade', 'sms_messages', 'delivered_at', 'readable', NULL),
    ('palisade', 'sms_messages', 'failed_at', 'readable', NULL),
    ('palisade', 'sms_messages', 'received_at', 'readable', NULL),
    ('palisade', 'sms_messages', 'created_at', 'readable', NULL),
    ('palisade', 'sms_messages', 'updated_at', 'readable', NULL),
    ('palisade', 'sms_messages', 'change_xid', 'readable',
     'the id of the transaction that last wrote the row: a cluster-wide counter, so never sent to a client as it is (the changes feed seals it in its tokens; the export leaves xid8 columns out)'),

    -- palisade.social_accounts
    ('palisade', 'social_accounts', 'organization_id', 'readable', NULL),
    ('palisade', 'social_accounts', 'id', 'readable', NULL),
    ('palisade', 'social_accounts', 'network', 'readable', NULL),
    ('palisade', 'social_accounts', 'handle', 'readable', NULL),
    ('palisade', 'social_accounts', 'access_token', 'secret', 'The OAuth access token of the organization''s social network account: whoever reads it posts as that account.'),
    ('palisade', 'social_accounts', 'has_access_token', 'readable', 'Generated from access_token IS NOT NULL: whether a token is set, which the API shows; never the token.'),
    ('palisade', 'social_accounts', 'created_at', 'readable', NULL),
    ('palisade', 'social_accounts', 'updated_at', 'readable', NULL),

    -- palisade.social_posts
    ('palisade', 'social_posts', 'organization_id', 'readable', NULL),
    ('palisade', 'social_posts', 'id', 'readable', NULL),
    ('palisade', 'social_posts', 'account_id', 'readable', NULL),
    ('palisade', 'social_posts', 'body', 'readable', NULL),
    ('palisade', 'social_posts', 'status', 'readable', NULL),
    ('palisade', 'social_posts', 'scheduled_at', 'readable', NULL),
    ('palisade', 'social_posts', 'published_at', 'readable', NULL),
    ('palisade', 'social_posts', 'likes', 'readable', NULL),
    ('palisade', 'social_posts', 'shares', 'readable', NULL),
    ('palisade', 'social_posts', 'comments', 'readable', NULL),
    ('palisade', 'social_posts', 'impressions', 'readable', NULL),
    ('palisade', 'social_posts', 'created_at', 'readable', NULL),
    ('palisade', 'social_posts', 'updated_at', 'readable', NULL),
    ('palisade', 'social_posts', 'change_xid', 'readable',
     'the id of the transaction that last wrote the row: a cluster-wide counter, so never sent to a client as it is (the changes feed seals it in its tokens; the export leaves xid8 columns out)'),

    -- palisade.subscriptions
    ('palisade', 'subscriptions', 'organization_id', 'readable', NULL),
    ('palisade', 'subscriptions', 'id', 'readable', NULL),
    ('palisade', 'subscriptions', 'stripe_subscription_id', 'readable', NULL),
    ('palisade', 'subscriptions', 'status', 'readable', NULL),
    ('palisade', 'subscriptions', 'plan', 'readable', NULL),
    ('palisade', 'subscriptions', 'stripe_price_id', 'readable', NULL),
    ('palisade', 'subscriptions', 'quantity', 'readable', NULL),
    ('palisade', 'subscriptions', 'unit_amount_cents', 'readable', NULL),
    ('palisade', 'subscriptions', 'currency', 'readable', NULL),
    ('palisade', 'subscriptions', 'current_period_start', 'readable', NULL),
    ('palisade', 'subscriptions', 'current_period_end', 'readable', NULL),
    ('palisade', 'subscriptions', 'cancel_at_period_end', 'readable', NULL),
    ('palisade', 'subscriptions', 'cancelled_at', 'readable', NULL),
    ('palisade', 'subscriptions', 'stripe_updated_at', 'readable', NULL),
    ('palisade', 'subscriptions', 'created_at', 'readable', NULL),
    ('palisade', 'subscriptions', 'updated_at', 'readable', NULL),

    -- palisade.users
    ('palisade', 'users', 'organization_id', 'readable', NULL),
    ('palisade', 'users', 'id', 'readable', NULL),
    ('palisade', 'users', 'email', 'readable', NULL),
    ('palisade', 'users', 'name', 'readable', NULL),
    ('palisade', 'users', 'role', 'readable', NULL),
    ('palisade', 'users', 'password_hash', 'secret', 'The user''s argon2id password hash: an offline guessing target. Login verifies it through palisade_private.login_lookup (020_resolvers.sql), never through a tenant query.'),
    ('palisade', 'users', 'created_at', 'readable', NULL),
    ('palisade', 'users', 'updated_at', 'readable', NULL),
    ('palisade', 'users', 'credential_version', 'readable', 'A counter bumped by a password change or reset, or by signing out everywhere (end_sessions); tokens carry it so older ones stop working. Not a credential.'),

    -- palisade.voice_campaigns
    ('palisade', 'voice_campaigns', 'organization_id', 'readable', NULL),
    ('palisade', 'voice_campaigns', 'id', 'readable', NULL),
    ('palisade', 'voice_campaigns', 'name', 'readable', NULL),
    ('palisade', 'voice_campaigns', 'script', 'readable', NULL),
    ('palisade', 'voice_campaigns', 'status', 'readable', NULL),
    ('palisade', 'voice_campaigns', 'scheduled_at', 'readable', NULL),
    ('palisade', 'voice_campaigns', 'created_at', 'readable', NULL),
    ('palisade', 'voice_campaigns', 'updated_at', 'readable', NULL),
    ('palisade', 'voice_campaigns', 'change_xid', 'readable',
     'the id of the transaction that last wrote the row: a cluster-wide counter, so never sent to a client as it is (the changes feed seals it in its tokens; the export leaves xid8 columns out)'),

    -- palisade.webhook_deliveries
    ('palisade', 'webhook_deliveries', 'organization_id', 'readable', NULL),
    ('palisade', 'webhook_deliveries', 'id', 'readable', NULL),
    ('palisade', 'webhook_deliveries', 'provider', 'readable', NULL),
    ('palisade', 'webhook_deliveries', 'event_key', 'readable', 'The provider''s id of a delivery (e.g. a message SID), not a credential.'),
    ('palisade', 'webhook_deliveries', 'kind', 'readable', NULL),
    ('palisade', 'webhook_deliveries', 'outcome', 'readable', NULL),
    ('palisade', 'webhook_deliveries', 'subject_id', 'readable', NULL),
    ('palisade', 'webhook_deliveries', 'created_at', 'readable', NULL),
    ('palisade', 'webhook_deliveries', 'updated_at', 'readable', NULL),

    -- palisade_platform.mailgun_tokens
    ('palisade_platform', 'mailgun_tokens', 'token', 'readable', 'Mailgun''s random per-request token, worthless without the signature that came with it (not stored); the webhook compares it to refuse replays (460_mailgun_tokens.sql).'),
    ('palisade_platform', 'mailgun_tokens', 'body_sha256', 'readable', 'Digest of a webhook body already received, compared to tell a retry from a replay.'),
    ('palisade_platform', 'mailgun_tokens', 'accepted_at', 'readable', NULL);
