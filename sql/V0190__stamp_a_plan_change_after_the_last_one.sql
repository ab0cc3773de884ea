-- Why: V0187's trigger stamped updated_at with now(), the Stripe transaction's start. That
-- transaction may wait (for another event of the same customer, then for the organization's row)
-- while an owner's rename commits with a later time; the plan change then set updated_at back,
-- before the rename's, and a client that asks "changed since the time I last saw?" missed the very
-- change the stamp is for. The stamp is now never earlier than the time it replaces (one
-- microsecond after it, when now() is not later). The trigger itself is V0187's, unchanged.
CREATE OR REPLACE FUNCTION palisade_private.organization_plan_stamp() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    BEGIN
        IF NEW.plan IS DISTINCT FROM OLD.plan
           OR NEW.plan_status IS DISTINCT FROM OLD.plan_status THEN
            NEW.updated_at := GREATEST(
                pg_catalog.now(), OLD.updated_at + interval '1 microsecond');
        END IF;
        RETURN NEW;
    END
    $fn$;
