-- Why: the Twilio webhooks link an inbound SMS or call to the organization's oldest customer
-- whose phone is the other party's (palisade_db::webhooks::insert_inbound_sms,
-- palisade_db::carrier_status). Without this index each delivery scans all of the
-- organization's customers. Not unique: two customers may share a phone.
CREATE INDEX customers_org_phone_idx
    ON palisade.customers (organization_id, phone, created_at, id)
    WHERE phone IS NOT NULL;
