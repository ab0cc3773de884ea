-- Why: Amazon Connect contact events become calls (VOICE) and chat conversations (CHAT), found
-- again by the contact's id so that every later event of the contact updates the same row.
-- - calls: connect_contact_id (unique per organization, never globally: pitfall 2),
--   connect_instance_id (composite foreign key: only this organization's instance; deleting the
--   instance keeps the call, unlinked), and the queue and agent ARNs. Contact events carry no
--   phone numbers, so from_number/to_number become nullable; every other call (Twilio's, the
--   API's) still has both, which calls_numbers_or_connect_contact_check keeps true.
-- - chat_conversations: connect_contact_id and connect_instance_id, the same way.
-- - webhook_deliveries: provider aws_connect, kind connect.contact (event_key: the EventBridge
--   event id), so a repeated event is recorded once and changes nothing more.
ALTER TABLE palisade.calls
    ALTER COLUMN from_number DROP NOT NULL,
    ALTER COLUMN to_number DROP NOT NULL,
    ADD COLUMN connect_contact_id text CHECK (char_length(connect_contact_id) BETWEEN 1 AND 256),
    ADD COLUMN connect_instance_id uuid,
    ADD COLUMN queue_arn text CHECK (char_length(queue_arn) BETWEEN 1 AND 2048),
    ADD COLUMN agent_arn text CHECK (char_length(agent_arn) BETWEEN 1 AND 2048),
    ADD CONSTRAINT calls_numbers_or_connect_contact_check
        CHECK (connect_contact_id IS NOT NULL OR (from_number IS NOT NULL AND to_number IS NOT NULL)),
    ADD CONSTRAINT calls_connect_contact_id_key UNIQUE (organization_id, connect_contact_id),
    ADD CONSTRAINT calls_connect_instance_fkey FOREIGN KEY (organization_id, connect_instance_id)
        REFERENCES palisade.aws_connect_instances (organization_id, id) ON DELETE SET NULL (connect_instance_id);
-- The ON DELETE SET NULL from an instance.
CREATE INDEX calls_connect_instance_idx ON palisade.calls (organization_id, connect_instance_id);

ALTER TABLE palisade.chat_conversations
    ADD COLUMN connect_contact_id text CHECK (char_length(connect_contact_id) BETWEEN 1 AND 256),
    ADD COLUMN connect_instance_id uuid,
    ADD CONSTRAINT chat_conversations_connect_contact_id_key UNIQUE (organization_id, connect_contact_id),
    ADD CONSTRAINT chat_conversations_connect_instance_fkey FOREIGN KEY (organization_id, connect_instance_id)
        REFERENCES palisade.aws_connect_instances (organization_id, id) ON DELETE SET NULL (connect_instance_id);
CREATE INDEX chat_conversations_connect_instance_idx
    ON palisade.chat_conversations (organization_id, connect_instance_id);

ALTER TABLE palisade.webhook_deliveries DROP CONSTRAINT webhook_deliveries_provider_check;
ALTER TABLE palisade.webhook_deliveries ADD CONSTRAINT webhook_deliveries_provider_check
    CHECK (provider IN ('twilio', 'sendgrid', 'mailgun', 'aws_connect'));
ALTER TABLE palisade.webhook_deliveries DROP CONSTRAINT webhook_deliveries_kind_check;
ALTER TABLE palisade.webhook_deliveries ADD CONSTRAINT webhook_deliveries_kind_check
    CHECK (kind IN ('sms.inbound', 'sms.status', 'voice.status', 'email.event', 'connect.contact'));

-- An outbound Connect contact has no from_number of ours (Connect dials from its own numbers):
-- the from-number rule of V0070 applies to the calls and messages that have one. Every other
-- outbound call still has one (calls_numbers_or_connect_contact_check), and sms_messages'
-- from_number is NOT NULL, so nothing else changes.
CREATE OR REPLACE FUNCTION palisade_private.outbound_from_number_owned() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    DECLARE
        v_capability text := TG_ARGV[0];
    BEGIN
        IF NEW.direction = 'outbound' AND NEW.from_number IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM palisade.phone_numbers AS n
             WHERE n.organization_id = NEW.organization_id AND n.number = NEW.from_number
               AND v_capability = ANY (n.capabilities)) THEN
            RAISE EXCEPTION 'outbound from_number is not one of the organization''s numbers with the % capability', v_capability
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_TABLE_NAME || '_from_number_owned',
                      TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
        END IF;
        RETURN NEW;
    END
    $fn$;
