-- Why: before invitations (V0080), an admin created members with a password of the admin's
-- choosing (POST /v1/members), so a removed admin could still log in as every account they had
-- created. On upgrade, every user except the organization's signup owner (the user created in
-- the same transaction as the organization, so with the same created_at) gets a password that
-- no input matches (a well-formed argon2id hash of random bytes, so a login attempt costs what
-- any other does and answers 401) and a bumped credential_version (their tokens end). They set
-- their own password with "forgot password" (POST /v1/auth/request-password-reset), which mails
-- the link to their own address. docs/accounts.md, "Upgrading".
--
-- FORCE ROW LEVEL SECURITY binds the owner too, and a migration has no tenant: the FORCE of
-- the two tables read is lifted for this one statement and put back in the same transaction
-- (the DDL guard lets a migration pass, with a warning in the log).
ALTER TABLE palisade.users NO FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.organizations NO FORCE ROW LEVEL SECURITY;
UPDATE palisade.users AS u
   SET password_hash = '$argon2id$v=19$m=19456,t=2,p=1$'
           || rtrim(encode(decode(md5(random()::text || u.id::text), 'hex'), 'base64'), '=')
           || '$'
           || rtrim(encode(decode(md5(random()::text || u.id::text)
                                  || md5(random()::text || u.email), 'hex'), 'base64'), '='),
       credential_version = u.credential_version + 1,
       updated_at = now()
  FROM palisade.organizations AS o
 WHERE o.id = u.organization_id AND u.created_at <> o.created_at;
ALTER TABLE palisade.users FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.organizations FORCE ROW LEVEL SECURITY;
