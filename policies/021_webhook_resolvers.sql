/**
 * Webhook resolvers: how a carrier's or email provider's signed delivery finds its organization
 * before any tenant is known. Same rules as 020_resolvers.sql: SECURITY DEFINER, owned by the
 * NOLOGIN role palisade_resolver, `search_path = ''`, EXECUTE for palisade_app only. Each
 * returns an organization id and nothing else (NULL when there is no single answer); the
 * handler then opens a tenant transaction for that organization
 * (TenantTx::begin_for_provider) and does every read and write under RLS.
 *
 * Provider ids (Twilio SIDs, email provider message ids) are unique per organization only
 * (RLS pitfall 2), so a lookup by provider id answers only when exactly one organization holds
 * it. Our own ids, carried in the signed callback URL (Twilio) or as custom arguments (email
 * providers), are preferred: nobody but us chooses them.
 *
 * The resolver role reads only the columns these need (GRANTs and `*_select_resolver`
 * policies in each table's file).
 */
SET LOCAL ROLE palisade_resolver;

/**
 * webhook_org_for_number(number, capability): the organization that owns this E.164 number
 * with this capability ('sms' or 'voice'). At most one: phone_numbers_number_key is global.
 */
CREATE OR REPLACE FUNCTION palisade_private.webhook_org_for_number(p_number text, p_capability text)
    RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        SELECT n.organization_id
          FROM palisade.phone_numbers AS n
         WHERE n.number = p_number AND p_capability = ANY (n.capabilities)
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.webhook_org_for_number(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.webhook_org_for_number(text, text) TO palisade_app;

/**
 * webhook_org_for_sms_message(message_id, sid): the organization of the outbound SMS a Twilio
 * status callback is about. With our message id (from the signed StatusCallback URL): that
 * message, if its carrier SID is this SID or not yet known. Without it: the message with this
 * SID, only if exactly one organization has one.
 */
CREATE OR REPLACE FUNCTION palisade_private.webhook_org_for_sms_message(p_message_id uuid, p_sid text)
    RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
    DECLARE
        v_orgs uuid[];
    BEGIN
        IF p_message_id IS NOT NULL THEN
            SELECT pg_catalog.array_agg(m.organization_id) INTO v_orgs
              FROM palisade.sms_messages AS m
             WHERE m.id = p_message_id AND m.direction = 'outbound'
               AND (m.carrier_sid IS NULL OR m.carrier_sid = p_sid);
        ELSE
            SELECT pg_catalog.array_agg(m.organization_id) INTO v_orgs
              FROM palisade.sms_messages AS m
             WHERE m.carrier_sid = p_sid AND m.direction = 'outbound';
        END IF;
        RETURN CASE WHEN pg_catalog.cardinality(v_orgs) = 1 THEN v_orgs[1] END;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.webhook_org_for_sms_message(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.webhook_org_for_sms_message(uuid, text) TO palisade_app;

/**
 * webhook_org_for_call(call_id, sid): the organization of the call a Twilio voice status
 * callback is about, like webhook_org_for_sms_message. NULL for a call we have not seen; the
 * handler then tries webhook_org_for_number with the call's To and From numbers.
 */
CREATE OR REPLACE FUNCTION palisade_private.webhook_org_for_call(p_call_id uuid, p_sid text)
    RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
    DECLARE
        v_orgs uuid[];
    BEGIN
        IF p_call_id IS NOT NULL THEN
            SELECT pg_catalog.array_agg(c.organization_id) INTO v_orgs
              FROM palisade.calls AS c
             WHERE c.id = p_call_id AND (c.call_sid IS NULL OR c.call_sid = p_sid);
        ELSE
            SELECT pg_catalog.array_agg(c.organization_id) INTO v_orgs
              FROM palisade.calls AS c
             WHERE c.call_sid = p_sid;
        END IF;
        RETURN CASE WHEN pg_catalog.cardinality(v_orgs) = 1 THEN v_orgs[1] END;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.webhook_org_for_call(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.webhook_org_for_call(uuid, text) TO palisade_app;

/**
 * webhook_org_for_email_message(message_id, provider_id): the organization of the email an
 * email provider's event is about. With our message id (a SendGrid custom argument or Mailgun
 * user variable we set when sending): that message, if its provider id is this one, not yet
 * known, or not given. Without it: the message with this provider id, only if exactly one
 * organization has one.
 */
CREATE OR REPLACE FUNCTION palisade_private.webhook_org_for_email_message(p_message_id uuid, p_provider_id text)
    RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
    DECLARE
        v_orgs uuid[];
    BEGIN
        IF p_message_id IS NOT NULL THEN
            SELECT pg_catalog.array_agg(m.organization_id) INTO v_orgs
              FROM palisade.email_messages AS m
             WHERE m.id = p_message_id
               AND (p_provider_id IS NULL OR m.provider_message_id IS NULL
                    OR m.provider_message_id = p_provider_id);
        ELSIF p_provider_id IS NOT NULL THEN
            SELECT pg_catalog.array_agg(m.organization_id) INTO v_orgs
              FROM palisade.email_messages AS m
             WHERE m.provider_message_id = p_provider_id;
        END IF;
        RETURN CASE WHEN pg_catalog.cardinality(v_orgs) = 1 THEN v_orgs[1] END;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.webhook_org_for_email_message(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.webhook_org_for_email_message(uuid, text) TO palisade_app;

RESET ROLE;
