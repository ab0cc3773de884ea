-- Why: the Stripe path changes an organization's plan and plan_status (as palisade_billing, in
-- crates/palisade_db/src/stripe.rs), and nothing moved its updated_at: GET /v1/organization
-- showed a new plan with the updated_at of the last rename, so a client watching updated_at never
-- saw a plan change. The billing role holds UPDATE on the billing columns only
-- (policies/440_billing.sql) and is given none on updated_at: this trigger stamps it instead
-- (a BEFORE trigger's change of NEW needs no column privilege), so the BYPASSRLS role's grants
-- stay as narrow as they were. Only a real change stamps it: an event that leaves the plan and its
-- status as they were (a stale or repeated one) does not.
CREATE FUNCTION palisade_private.organization_plan_stamp() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    BEGIN
        IF NEW.plan IS DISTINCT FROM OLD.plan
           OR NEW.plan_status IS DISTINCT FROM OLD.plan_status THEN
            NEW.updated_at := pg_catalog.now();
        END IF;
        RETURN NEW;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.organization_plan_stamp() FROM PUBLIC;
CREATE TRIGGER organizations_plan_stamp
    BEFORE UPDATE OF plan, plan_status ON palisade.organizations
    FOR EACH ROW EXECUTE FUNCTION palisade_private.organization_plan_stamp();
