-- Why: a reviewed_trigger row (V0163) is named schema.table.trigger, up to 63 + 1 + 63 + 1 + 63
-- characters; the names' check of V0050 allowed 63, one identifier's length.
ALTER TABLE palisade_audit.allow_list DROP CONSTRAINT allow_list_name_check;
ALTER TABLE palisade_audit.allow_list ADD CONSTRAINT allow_list_name_check
    CHECK (char_length(name) BETWEEN 1 AND 191);
